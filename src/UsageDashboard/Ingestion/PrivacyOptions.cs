namespace UsageDashboard.Ingestion;

/// <summary>Settings of the privacy rules (section <c>Privacy</c>, docs/privacy.md).</summary>
public sealed class PrivacyOptions
{
    /// <summary>
    /// The secret of the keyed hashes of identifiers. Unset: a random one is generated on first start and
    /// kept in the database (<c>identifier_keys</c>), shared by every instance. Changing it changes every
    /// hash from then on; the change is logged as a warning at start and recorded.
    /// </summary>
    public string? IdentifierKey { get; set; }
}
