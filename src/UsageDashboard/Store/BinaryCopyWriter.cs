using System.Buffers.Binary;
using System.Text;
using Npgsql;

namespace UsageDashboard.Store;

/// <summary>
/// Writes PostgreSQL's binary COPY format straight into a byte buffer, for the bulk load's millions of
/// values. <see cref="NpgsqlBinaryImporter"/> resolves a converter and binds a parameter for every value
/// (about 170 ns each, most of the load's client CPU); encoding the handful of types the store uses by
/// hand costs a few nanoseconds. Field values go into the buffer synchronously; the buffer is sent
/// between rows (<see cref="EndRowAsync"/>). Format: https://www.postgresql.org/docs/current/sql-copy.html
/// </summary>
internal sealed class BinaryCopyWriter : IAsyncDisposable
{
    private const int FlushAt = 256 * 1024;

    /// <summary>2000-01-01 UTC, PostgreSQL's timestamp epoch, in ticks.</summary>
    private const long PostgresEpochTicks = 630_822_816_000_000_000;

    /// <summary>2000-01-01 as <see cref="DateOnly.DayNumber"/> (the epoch's ticks over a day's).</summary>
    private const int PostgresEpochDay = (int)(PostgresEpochTicks / TimeSpan.TicksPerDay);

    /// <summary>The type oids of smallint and integer, which a binary array names for its elements.</summary>
    private const int Int2Oid = 21;
    private const int Int4Oid = 23;

    /// <summary>Signature "PGCOPY\n\xff\r\n\0", then flags and header-extension length, both zero.</summary>
    private static ReadOnlySpan<byte> Header => [(byte)'P', (byte)'G', (byte)'C', (byte)'O', (byte)'P', (byte)'Y', (byte)'\n', 0xFF, (byte)'\r', (byte)'\n', 0, 0, 0, 0, 0, 0, 0, 0, 0];

    private readonly NpgsqlRawCopyStream _stream;
    private byte[] _buffer = new byte[FlushAt + (64 * 1024)];
    private int _position;
    private bool _completed;

    private BinaryCopyWriter(NpgsqlRawCopyStream stream)
    {
        _stream = stream;
        Header.CopyTo(_buffer);
        _position = Header.Length;
    }

    /// <summary>Starts <c>COPY {target} FROM STDIN (FORMAT BINARY)</c>.</summary>
    public static async Task<BinaryCopyWriter> BeginAsync(NpgsqlConnection conn, string target, CancellationToken ct) =>
        new(await conn.BeginRawBinaryCopyAsync($"COPY {target} FROM STDIN (FORMAT BINARY)", ct));

    /// <summary>
    /// The value PostgreSQL stores for <paramref name="t"/>: microseconds since 2000-01-01, truncated
    /// towards zero as Npgsql does, so rows written either way compare equal.
    /// </summary>
    public static long ToPostgresMicroseconds(DateTime t)
    {
        if (t.Kind != DateTimeKind.Utc)
        {
            throw new ArgumentException($"timestamptz values must be UTC, got {t.Kind}.", nameof(t));
        }
        return (t.Ticks - PostgresEpochTicks) / 10;
    }

    public void StartRow(short fields)
    {
        Ensure(2);
        BinaryPrimitives.WriteInt16BigEndian(_buffer.AsSpan(_position), fields);
        _position += 2;
    }

    public void WriteNull()
    {
        Ensure(4);
        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(_position), -1);
        _position += 4;
    }

    public void Write(string? value)
    {
        if (value is null)
        {
            WriteNull();
            return;
        }
        Ensure(4 + Encoding.UTF8.GetMaxByteCount(value.Length));
        var length = Encoding.UTF8.GetBytes(value, _buffer.AsSpan(_position + 4));
        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(_position), length);
        _position += 4 + length;
    }

    /// <summary>jsonb: a version byte (1), then the document as text.</summary>
    public void WriteJsonb(string json)
    {
        Ensure(5 + Encoding.UTF8.GetMaxByteCount(json.Length));
        var length = Encoding.UTF8.GetBytes(json, _buffer.AsSpan(_position + 5));
        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(_position), length + 1);
        _buffer[_position + 4] = 1;
        _position += 5 + length;
    }

    public void Write(Guid value)
    {
        Ensure(20);
        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(_position), 16);
        value.TryWriteBytes(_buffer.AsSpan(_position + 4), bigEndian: true, out _);
        _position += 20;
    }

    public void Write(DateTime value) => Write(ToPostgresMicroseconds(value));

    public void Write(DateTime? value)
    {
        if (value is { } t)
        {
            Write(t);
        }
        else
        {
            WriteNull();
        }
    }

    public void Write(long value)
    {
        Ensure(12);
        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(_position), 8);
        BinaryPrimitives.WriteInt64BigEndian(_buffer.AsSpan(_position + 4), value);
        _position += 12;
    }

    public void Write(long? value)
    {
        if (value is { } v)
        {
            Write(v);
        }
        else
        {
            WriteNull();
        }
    }

    public void Write(int value) => WriteInt32Field(value);

    /// <summary>date: days since 2000-01-01.</summary>
    public void Write(DateOnly value) => WriteInt32Field(value.DayNumber - PostgresEpochDay);

    /// <summary>smallint[]: one dimension, no NULLs.</summary>
    public void Write(short[] values)
    {
        StartArray(values.Length, Int2Oid, 2);
        foreach (var v in values)
        {
            BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(_position), 2);
            BinaryPrimitives.WriteInt16BigEndian(_buffer.AsSpan(_position + 4), v);
            _position += 6;
        }
    }

    /// <summary>integer[]: one dimension, no NULLs.</summary>
    public void Write(int[] values)
    {
        StartArray(values.Length, Int4Oid, 4);
        foreach (var v in values)
        {
            BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(_position), 4);
            BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(_position + 4), v);
            _position += 8;
        }
    }

    /// <summary>The field length and array header (dimensions, null flag, element type, size, lower bound), with room for the elements.</summary>
    private void StartArray(int count, int elementOid, int elementBytes)
    {
        var body = 20 + (count * (4 + elementBytes));
        Ensure(4 + body);
        var span = _buffer.AsSpan(_position);
        BinaryPrimitives.WriteInt32BigEndian(span, body);
        BinaryPrimitives.WriteInt32BigEndian(span[4..], 1);
        BinaryPrimitives.WriteInt32BigEndian(span[8..], 0);
        BinaryPrimitives.WriteInt32BigEndian(span[12..], elementOid);
        BinaryPrimitives.WriteInt32BigEndian(span[16..], count);
        BinaryPrimitives.WriteInt32BigEndian(span[20..], 1);
        _position += 24;
    }

    private void WriteInt32Field(int value)
    {
        Ensure(8);
        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(_position), 4);
        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(_position + 4), value);
        _position += 8;
    }

    public void Write(bool value)
    {
        Ensure(5);
        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(_position), 1);
        _buffer[_position + 4] = value ? (byte)1 : (byte)0;
        _position += 5;
    }

    /// <summary>Sends the buffer once enough rows have gathered.</summary>
    public ValueTask EndRowAsync(CancellationToken ct) => _position >= FlushAt ? FlushAsync(ct) : ValueTask.CompletedTask;

    /// <summary>Writes the trailer and ends the COPY; the server reports bad data here at the latest.</summary>
    public async Task CompleteAsync(CancellationToken ct)
    {
        Ensure(2);
        BinaryPrimitives.WriteInt16BigEndian(_buffer.AsSpan(_position), -1);
        _position += 2;
        await FlushAsync(ct);
        _completed = true;
        await _stream.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_completed)
        {
            // Abandoned half-way (an exception): tell the server to drop the COPY rather than end it.
            await _stream.CancelAsync();
            await _stream.DisposeAsync();
        }
    }

    private async ValueTask FlushAsync(CancellationToken ct)
    {
        await _stream.WriteAsync(_buffer.AsMemory(0, _position), ct);
        _position = 0;
    }

    /// <summary>Room for <paramref name="bytes"/> more; a row larger than the buffer grows it instead of splitting a value.</summary>
    private void Ensure(int bytes)
    {
        if (_position + bytes > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _position + bytes));
        }
    }
}
