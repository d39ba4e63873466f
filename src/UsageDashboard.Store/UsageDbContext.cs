using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace UsageDashboard.Store;

/// <summary>The one DbContext: the event store, and the dashboards' users, tokens and write keys.</summary>
public sealed class UsageDbContext(DbContextOptions<UsageDbContext> options) : IdentityDbContext<DashboardUser>(options)
{
    public const string MigrationsAssembly = "UsageDashboard.Migrations";

    public DbSet<TelemetryEvent> Events => Set<TelemetryEvent>();
    public DbSet<Run> Runs => Set<Run>();
    public DbSet<RunPlugin> RunPlugins => Set<RunPlugin>();
    public DbSet<Installation> Installations => Set<Installation>();
    public DbSet<QuarantinedEvent> Quarantine => Set<QuarantinedEvent>();
    public DbSet<QuarantineCount> QuarantineCounts => Set<QuarantineCount>();
    public DbSet<ApiToken> ApiTokens => Set<ApiToken>();
    public DbSet<WriteKey> WriteKeys => Set<WriteKey>();
    public DbSet<HealthFlag> HealthFlags => Set<HealthFlag>();
    public DbSet<HealthFlagEvent> HealthFlagEvents => Set<HealthFlagEvent>();
    public DbSet<WebhookMessage> WebhookMessages => Set<WebhookMessage>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        base.OnModelCreating(modelBuilder);
        modelBuilder.HasSequence<long>("events_id_sequence");
        modelBuilder.Entity<DashboardUser>().ToTable("users");
        modelBuilder.Entity<IdentityRole>().ToTable("roles");
        modelBuilder.Entity<IdentityUserRole<string>>().ToTable("user_roles");
        modelBuilder.Entity<IdentityUserClaim<string>>().ToTable("user_claims");
        modelBuilder.Entity<IdentityUserLogin<string>>().ToTable("user_logins");
        modelBuilder.Entity<IdentityUserToken<string>>().ToTable("user_tokens");
        modelBuilder.Entity<IdentityRoleClaim<string>>().ToTable("role_claims");
        modelBuilder.ApplyConfiguration(new ApiTokenConfiguration());
        modelBuilder.ApplyConfiguration(new WriteKeyConfiguration());
        modelBuilder.ApplyConfiguration(new TelemetryEventConfiguration());
        modelBuilder.ApplyConfiguration(new RunConfiguration());
        modelBuilder.ApplyConfiguration(new RunPluginConfiguration());
        modelBuilder.ApplyConfiguration(new InstallationConfiguration());
        modelBuilder.ApplyConfiguration(new QuarantinedEventConfiguration());
        modelBuilder.ApplyConfiguration(new QuarantineCountConfiguration());
        modelBuilder.ApplyConfiguration(new HealthFlagConfiguration());
        modelBuilder.ApplyConfiguration(new HealthFlagEventConfiguration());
        modelBuilder.ApplyConfiguration(new WebhookMessageConfiguration());
        RollupModel.Configure(modelBuilder);

        // snake_case columns, so the hand-written analytics SQL reads like SQL (EFCore.NamingConventions
        // is not on the package feed, and this is all of it we need).
        foreach (var entity in modelBuilder.Model.GetEntityTypes())
        {
            foreach (var property in entity.GetProperties())
            {
                property.SetColumnName(ToSnakeCase(property.Name));
            }
        }
    }

    public static string ToSnakeCase(string name)
    {
        var sb = new System.Text.StringBuilder(name.Length + 8);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsUpper(c))
            {
                if (i > 0 && !char.IsUpper(name[i - 1]))
                {
                    sb.Append('_');
                }
                sb.Append(char.ToLowerInvariant(c));
            }
            else
            {
                sb.Append(c);
            }
        }
        return sb.ToString();
    }

    /// <summary>Npgsql options shared by the app, the CLI, the design-time factory and the tests.</summary>
    public static void Configure(DbContextOptionsBuilder builder, string connectionString) =>
        builder.UseNpgsql(connectionString, o => o.MigrationsAssembly(MigrationsAssembly));
}

internal sealed class TelemetryEventConfiguration : IEntityTypeConfiguration<TelemetryEvent>
{
    public void Configure(EntityTypeBuilder<TelemetryEvent> b)
    {
        b.ToTable("events");
        // events is partitioned by month on occurred_at (raw SQL in the EventsPartitionedByMonth migration, with
        // the partition functions; EF does not model partitions), so its primary key holds the partition key and
        // it can hold no unique (tool, event_id) index: idempotency lives in event_keys, which EventWriter fills
        // before it inserts. Ids come from a sequence, since an identity column cannot be shared by the
        // partitions. Time-range reads prune partitions, so no occurred_at index either.
        b.HasKey(e => new { e.Id, e.OccurredAt });
        b.Property(e => e.Id).HasDefaultValueSql("nextval('events_id_sequence')");
        b.HasIndex(e => new { e.Tool, e.RunKey });
        b.Property(e => e.Status).HasDefaultValue(RunStatus.Unknown);
        b.Property(e => e.Properties).HasColumnType("jsonb");
        b.ComplexCollection(e => e.Plugins, c =>
        {
            c.ToJson("plugins");
            c.Property(p => p.Name).HasJsonPropertyName("name");
            c.Property(p => p.Type).HasJsonPropertyName("type");
            c.Property(p => p.Version).HasJsonPropertyName("version");
            c.Property(p => p.Status).HasJsonPropertyName("status");
        });
    }
}

internal sealed class RunConfiguration : IEntityTypeConfiguration<Run>
{
    public void Configure(EntityTypeBuilder<Run> b)
    {
        b.ToTable("runs");
        b.HasKey(r => r.Id);
        b.Property(r => r.Id).UseIdentityAlwaysColumn();
        b.HasIndex(r => new { r.Tool, r.RunKey }).IsUnique();
        // Dashboards filter by time range, optionally by tool, then group by a dimension; the
        // INCLUDE columns let the common overview aggregates run as index-only scans.
        b.HasIndex(r => new { r.Tool, r.OccurredAt })
            .IncludeProperties(r => new { r.InstallationId, r.Status, r.Command, r.IsCi });
        b.HasIndex(r => r.OccurredAt)
            .IncludeProperties(r => new { r.Tool, r.InstallationId, r.Status, r.Command, r.IsCi });
        // Finds runs left open so they can be aborted after Runs:AbortAfter.
        b.HasIndex(r => r.StartedAt).HasFilter("status = 'running'").HasDatabaseName("ix_runs_open");
        b.Property(r => r.Status).HasDefaultValue(RunStatus.Unknown);
        b.ComplexCollection(r => r.Plugins, c =>
        {
            c.ToJson("plugins");
            c.Property(p => p.Name).HasJsonPropertyName("name");
            c.Property(p => p.Type).HasJsonPropertyName("type");
            c.Property(p => p.Version).HasJsonPropertyName("version");
            c.Property(p => p.Status).HasJsonPropertyName("status");
        });
    }
}

internal sealed class RunPluginConfiguration : IEntityTypeConfiguration<RunPlugin>
{
    public void Configure(EntityTypeBuilder<RunPlugin> b)
    {
        b.ToTable("run_plugins");
        b.HasKey(p => new { p.RunId, p.Name, p.Type });
        // No foreign key to runs: run_plugins is derived and rewritten only by the run derivation (which
        // deletes a run's rows before inserting them), and a per-row FK check halves bulk-load speed.
        b.HasIndex(p => new { p.Tool, p.Name, p.OccurredAt }).IncludeProperties(p => new { p.Version, p.Status, p.InstallationId, p.IsCi });
    }
}

internal sealed class InstallationConfiguration : IEntityTypeConfiguration<Installation>
{
    public void Configure(EntityTypeBuilder<Installation> b)
    {
        b.ToTable("installations");
        b.HasKey(i => new { i.Tool, i.InstallationId });
        b.Property(i => i.Id).UseIdentityByDefaultColumn();
        b.HasIndex(i => i.Id).IsUnique().HasDatabaseName("ix_installations_id");
        b.HasIndex(i => i.FirstSeen);
        // Room for HOT updates of last_seen (migration InstallationsFillfactor says why).
        b.HasStorageParameter("fillfactor", 70);
    }
}

internal sealed class QuarantinedEventConfiguration : IEntityTypeConfiguration<QuarantinedEvent>
{
    public void Configure(EntityTypeBuilder<QuarantinedEvent> b)
    {
        b.ToTable("quarantine");
        b.HasKey(q => q.Id);
        b.Property(q => q.Id).UseIdentityAlwaysColumn();
        b.HasIndex(q => q.ReceivedAt);
        b.HasIndex(q => q.Reason);
    }
}

internal sealed class QuarantineCountConfiguration : IEntityTypeConfiguration<QuarantineCount>
{
    public void Configure(EntityTypeBuilder<QuarantineCount> b)
    {
        b.ToTable("quarantine_counts");
        b.HasKey(c => new { c.Day, c.Tool, c.Reason });
    }
}

internal sealed class ApiTokenConfiguration : IEntityTypeConfiguration<ApiToken>
{
    public void Configure(EntityTypeBuilder<ApiToken> b)
    {
        b.ToTable("api_tokens");
        b.HasKey(t => t.Id);
        b.Property(t => t.Id).UseIdentityAlwaysColumn();
        b.HasIndex(t => t.SecretHash).IsUnique();
        b.HasIndex(t => t.UserId);
        b.Property(t => t.Scope).HasDefaultValue(TokenScopes.Read);
        b.HasOne<DashboardUser>().WithMany().HasForeignKey(t => t.UserId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class WriteKeyConfiguration : IEntityTypeConfiguration<WriteKey>
{
    public void Configure(EntityTypeBuilder<WriteKey> b)
    {
        b.ToTable("write_keys");
        b.HasKey(k => k.Id);
        b.Property(k => k.Id).UseIdentityAlwaysColumn();
        b.HasIndex(k => k.SecretHash).IsUnique();
        b.HasIndex(k => k.Tool);
    }
}

internal sealed class HealthFlagConfiguration : IEntityTypeConfiguration<HealthFlag>
{
    public void Configure(EntityTypeBuilder<HealthFlag> b)
    {
        b.ToTable("health_flags");
        b.HasKey(f => f.Id);
        b.Property(f => f.Id).UseIdentityAlwaysColumn();
        b.Property(f => f.Evidence).HasColumnType("jsonb");
        // At most one active flag per subject; resolved ones stay as history.
        b.HasIndex(f => new { f.Tool, f.Kind, f.Name, f.Version }).IsUnique().HasFilter("state <> 'resolved'").HasDatabaseName("ix_health_flags_active");
        b.HasIndex(f => new { f.State, f.UpdatedAt });
    }
}

internal sealed class HealthFlagEventConfiguration : IEntityTypeConfiguration<HealthFlagEvent>
{
    public void Configure(EntityTypeBuilder<HealthFlagEvent> b)
    {
        b.ToTable("health_flag_events");
        b.HasKey(e => e.Id);
        b.Property(e => e.Id).UseIdentityAlwaysColumn();
        b.HasOne<HealthFlag>().WithMany().HasForeignKey(e => e.FlagId).OnDelete(DeleteBehavior.Cascade);
        b.HasIndex(e => new { e.FlagId, e.At });
    }
}

internal sealed class WebhookMessageConfiguration : IEntityTypeConfiguration<WebhookMessage>
{
    public void Configure(EntityTypeBuilder<WebhookMessage> b)
    {
        b.ToTable("webhook_messages");
        b.HasKey(m => m.Id);
        b.Property(m => m.Id).UseIdentityAlwaysColumn();
        b.Property(m => m.Payload).HasColumnType("jsonb");
        b.HasOne<HealthFlagEvent>().WithMany().HasForeignKey(m => m.FlagEventId).OnDelete(DeleteBehavior.Cascade);
        // One message per flag state change and receiver, however often the change is processed.
        b.HasIndex(m => new { m.FlagEventId, m.Url }).IsUnique();
        b.HasIndex(m => m.NextAttemptAt).HasFilter("sent_at IS NULL AND failed_at IS NULL").HasDatabaseName("ix_webhook_messages_due");
    }
}
