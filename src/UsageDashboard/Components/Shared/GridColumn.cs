namespace UsageDashboard.Components.Shared;

/// <summary>
/// A column's text as a table shows it: what the quick filter searches and what the CSV export writes,
/// so both always agree with the columns on screen.
/// </summary>
public sealed record GridColumn<T>(string Title, Func<T, string> Text);
