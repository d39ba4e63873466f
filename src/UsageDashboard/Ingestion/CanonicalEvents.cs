using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using UsageDashboard.Store;

namespace UsageDashboard.Ingestion;

/// <summary>The rules every source shares once its mapper has run.</summary>
public static class CanonicalEvents
{
    public const int MaxIdLength = 200;
    public const int MaxTextLength = 200;
    public const int MaxShortText = 64;
    public const int MaxPlugins = 100;

    /// <summary>
    /// Cleans text for storage, applies the clock rule (a device time more than MaxFutureSkew after
    /// receipt becomes the receipt time, flagged), builds the size-capped properties and gives the event
    /// its stable id: the source's id, else a hash of tool and canonical content.
    /// </summary>
    public static TelemetryEvent Complete(MapResult mapped, IngestContext context)
    {
        var e = mapped.Event ?? throw new InvalidOperationException("a rejected event has nothing to complete");
        e.ReceivedAt = context.ReceivedAt;
        e.InstallationId = Privacy.Clean(e.InstallationId.Trim(), MaxIdLength);
        e.UserId = Privacy.CleanOptional(e.UserId, MaxIdLength);
        // Canonical text fields hold names and versions, never places: a value that looks personal
        // (an e-mail, a path, an address; Privacy.LooksPersonal) is dropped, a personal run id hashed.
        var runKey = Privacy.CleanOptional(e.RunKey, MaxIdLength) ?? "";
        e.RunKey = runKey.Length > 0 && Privacy.LooksPersonal(runKey) ? context.Identifiers.Personal(runKey) : runKey;
        e.EventName = Public(Privacy.CleanOptional(e.EventName, MaxShortText)) ?? "event";
        e.Command = Public(Privacy.CleanOptional(e.Command, MaxTextLength));
        e.ToolVersion = Public(Privacy.CleanOptional(e.ToolVersion, MaxShortText));
        e.OsName = Public(Privacy.CleanOptional(e.OsName, MaxShortText));
        e.OsVersion = Public(Privacy.CleanOptional(e.OsVersion, MaxShortText));
        e.RuntimeName = Public(Privacy.CleanOptional(e.RuntimeName, MaxShortText));
        e.RuntimeVersion = Public(Privacy.CleanOptional(e.RuntimeVersion, MaxShortText));
        e.Environment = Public(Privacy.CleanOptional(e.Environment, MaxShortText));
        e.ErrorType = Privacy.CleanOptional(e.ErrorType, MaxTextLength);
        e.Plugins = e.Plugins.Take(MaxPlugins).Select(p => p with
        {
            Name = Public(Privacy.Clean(p.Name.Trim(), MaxTextLength)) ?? "",
            Type = Public(Privacy.CleanOptional(p.Type, MaxShortText)),
            Version = Public(Privacy.CleanOptional(p.Version, MaxShortText)),
            Status = p.Status is null ? null : Canon.Status(p.Status),
        }).Where(p => p.Name.Length > 0).ToList();

        var properties = mapped.Properties ?? new PropertyBag();
        var occurred = mapped.DeviceTime ?? context.ReceivedAt;
        if (mapped.DeviceTime is { } device && device > context.ReceivedAt + context.Options.MaxFutureSkew)
        {
            occurred = context.ReceivedAt;
            e.ClockAdjusted = true;
            properties.Add("deviceTimestamp", device.ToString("O", CultureInfo.InvariantCulture));
        }
        e.OccurredAt = occurred;
        e.Properties = properties.Build(context.Options.MaxPropertiesBytes);

        var sourceId = Privacy.CleanOptional(mapped.SourceId, MaxIdLength);
        e.EventId = sourceId is not null
            ? (Guid.TryParse(sourceId, out var g) && g != Guid.Empty ? g : HashId("id", e.Tool, sourceId))
            : ContentId(e, mapped.DeviceTime ?? context.ReceivedAt);
        if (e.RunKey.Length == 0)
        {
            e.RunKey = e.EventId.ToString();
        }
        return e;
    }

    private static string? Public(string? value) => value is not null && Privacy.LooksPersonal(value) ? null : value;

    /// <summary>
    /// The id of an event that brings none: a hash of the tool and everything canonical about it,
    /// including the device time as sent (before any clock correction), so a re-sent copy hashes the same.
    /// </summary>
    private static Guid ContentId(TelemetryEvent e, DateTime time)
    {
        var sb = new StringBuilder(256);
        void Field(string? value) => sb.Append(value ?? "\u2400").Append('\u001f');
        Field(e.Source);
        Field(e.InstallationId);
        Field(e.UserId);
        Field(time.Ticks.ToString(CultureInfo.InvariantCulture));
        Field(e.EventName);
        Field(e.RunKey);
        Field(e.Command);
        Field(e.Status);
        Field(e.DurationMs?.ToString(CultureInfo.InvariantCulture));
        Field(e.ToolVersion);
        Field(e.OsName);
        Field(e.OsVersion);
        Field(e.RuntimeName);
        Field(e.RuntimeVersion);
        Field(e.Environment);
        Field(e.IsCi ? "ci" : "");
        Field(e.ErrorType);
        foreach (var p in e.Plugins)
        {
            Field(p.Name);
            Field(p.Type);
            Field(p.Version);
            Field(p.Status);
        }
        Field(e.Properties?.RootElement.GetRawText());
        return HashId("content", e.Tool, sb.ToString());
    }

    /// <summary>A name-based UUID (version 8, RFC 9562) from SHA-256 of the parts.</summary>
    public static Guid HashId(string kind, string tool, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(kind + "\u001f" + tool + "\u001f" + value);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(bytes, hash);
        hash[6] = (byte)((hash[6] & 0x0F) | 0x80);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash[..16], bigEndian: true);
    }
}
