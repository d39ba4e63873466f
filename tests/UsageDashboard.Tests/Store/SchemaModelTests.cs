using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Npgsql;
using UsageDashboard.Tests.Infrastructure;

namespace UsageDashboard.Tests.Store;

/// <summary>
/// EF owns the schema: every table, column, key and index of the model is in the database the migrations
/// build, with the model's type and nullability, and every table there is in the model. Several migrations
/// are hand-written SQL, so the snapshot alone (Migrations_CurrentModel_NoPendingModelChanges) cannot show
/// that the model describes the database.
/// </summary>
public sealed class SchemaModelTests : IClassFixture<SchemaModelTests.Db>
{
    public sealed class Db : DatabaseFixture;

    private readonly Db _db;

    public SchemaModelTests(Db db) => _db = db;

    [Fact]
    public async Task Model_EveryTableAndColumn_MatchesMigratedDatabase()
    {
        await using var ctx = _db.CreateDbContext();
        var columns = await ReadAsync("""
            SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped
            """, r => (Table: r.GetString(0), Column: r.GetString(1), Type: r.GetString(2), Nullable: r.GetBoolean(3)));
        var database = columns.ToDictionary(c => (c.Table, c.Column));
        var problems = new List<string>();

        var modelTables = new HashSet<string>();
        foreach (var entity in DesignModel(ctx).GetEntityTypes())
        {
            var table = entity.GetTableName()!;
            modelTables.Add(table);
            var id = StoreObjectIdentifier.Table(table);
            foreach (var property in entity.GetProperties())
            {
                var name = property.GetColumnName(id)!;
                if (!database.TryGetValue((table, name), out var column))
                {
                    problems.Add($"{table}.{name}: in the model, not in the database");
                    continue;
                }
                if (Normalise(property.GetColumnType(id)) != Normalise(column.Type))
                {
                    problems.Add($"{table}.{name}: model {property.GetColumnType(id)}, database {column.Type}");
                }
                if (property.IsColumnNullable(id) != column.Nullable)
                {
                    problems.Add($"{table}.{name}: model nullable={property.IsColumnNullable(id)}, database {column.Nullable}");
                }
            }
            foreach (var json in entity.GetComplexProperties())
            {
                database.Remove((table, json.ComplexType.GetContainerColumnName()!));
            }
            foreach (var property in entity.GetProperties())
            {
                database.Remove((table, property.GetColumnName(id)!));
            }
        }
        problems.AddRange(database.Keys.Where(k => modelTables.Contains(k.Table)).Select(k => $"{k.Table}.{k.Column}: in the database, not in the model"));
        problems.AddRange(database.Keys.Select(k => k.Table).Distinct()
            .Where(t => !modelTables.Contains(t) && t != "__EFMigrationsHistory")
            .Select(t => $"{t}: a table the model does not describe"));

        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    [Fact]
    public async Task Model_EveryKeyAndIndex_InMigratedDatabase()
    {
        await using var ctx = _db.CreateDbContext();
        var indexes = (await ReadAsync("""
            SELECT t.relname, i.relname, x.indisunique,
                   array_to_string(array(SELECT a.attname || CASE WHEN k.o > x.indnkeyatts THEN '+' ELSE '' END
                                         FROM unnest(x.indkey) WITH ORDINALITY k(n, o)
                                         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.n ORDER BY k.o), ',')
            FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
            JOIN pg_namespace n ON n.oid = t.relnamespace
            WHERE n.nspname = 'public' AND NOT t.relispartition
            """, r => (Table: r.GetString(0), Name: r.GetString(1), Unique: r.GetBoolean(2), Columns: r.GetString(3))))
            .ToDictionary(i => i.Name);
        var problems = new List<string>();

        foreach (var entity in DesignModel(ctx).GetEntityTypes())
        {
            var table = entity.GetTableName()!;
            var id = StoreObjectIdentifier.Table(table);
            // INCLUDE columns are marked with a trailing '+'.
            var expected = entity.GetIndexes()
                .Select(i => (Name: i.GetDatabaseName(id)!, i.IsUnique, Columns: i.Properties.Select(p => p.GetColumnName(id))
                    .Concat((i.GetIncludeProperties() ?? []).Select(n => entity.FindProperty(n)!.GetColumnName(id) + "+"))))
                .Concat(entity.GetKeys().Select(k => (Name: k.GetName(id)!, IsUnique: true, Columns: k.Properties.Select(p => p.GetColumnName(id)))));
            foreach (var (name, unique, columnNames) in expected)
            {
                var columns = string.Join(',', columnNames);
                if (!indexes.TryGetValue(name, out var index))
                {
                    problems.Add($"{table}: index {name} ({columns}) not in the database");
                }
                else if (index.Table != table || index.Unique != unique || index.Columns != columns)
                {
                    problems.Add($"{table}: index {name} is {(index.Unique ? "unique " : "")}on {index.Table} ({index.Columns}), the model says {(unique ? "unique " : "")}({columns})");
                }
            }
        }

        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    /// <summary>The model with what only migrations read (INCLUDE columns among them).</summary>
    private static IModel DesignModel(DbContext ctx) => ctx.GetService<IDesignTimeModel>().Model;

    /// <summary>The model names a type as its migrations write it ("timestamp with time zone", "integer[]"), the catalog as format_type does.</summary>
    private static string Normalise(string? type) => type switch
    {
        "timestamptz" => "timestamp with time zone",
        "int" or "int4" => "integer",
        "int8" => "bigint",
        "bool" => "boolean",
        _ => type ?? "",
    };

    private async Task<List<T>> ReadAsync<T>(string sql, Func<NpgsqlDataReader, T> row)
    {
        await using var cmd = _db.DataSource.CreateCommand(sql);
        await using var reader = await cmd.ExecuteReaderAsync();
        var rows = new List<T>();
        while (await reader.ReadAsync())
        {
            rows.Add(row(reader));
        }
        return rows;
    }
}
