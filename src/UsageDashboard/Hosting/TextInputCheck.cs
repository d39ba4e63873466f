namespace UsageDashboard.Hosting;

/// <summary>
/// Rejects, before any endpoint runs, a request whose path (and so its route values), query string or
/// form fields hold a NUL character or an unpaired UTF-16 surrogate. PostgreSQL cannot store either in
/// text, so such a value reaching a query or an insert used to end as a 500; no legitimate filter, name
/// or form field contains one. Request bodies are the collector's business (it cleans them per event).
/// </summary>
public static class TextInputCheck
{
    public const string Error = "invalid_text";

    /// <summary>Endpoint metadata: the endpoint rejects invalid text itself, with its own error shape and counters.</summary>
    public sealed class ChecksItsOwnInput
    {
        public static readonly ChecksItsOwnInput Instance = new();

        private ChecksItsOwnInput()
        {
        }
    }

    public static IApplicationBuilder UseTextInputCheck(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<ChecksItsOwnInput>() is null && await FindProblemAsync(context.Request) is { } problem)
        {
            await BadRequestAnswer.WriteAsync(context, Error, problem);
            return;
        }
        await next(context);
    });

    /// <summary>A sentence naming where the bad text is, or null when the request is clean.</summary>
    public static async Task<string?> FindProblemAsync(HttpRequest request)
    {
        // Blazor's router unescapes route segments once more: "/plugins/tap%2500" reaches a page as "tap\0".
        var path = request.PathBase.Value + request.Path.Value;
        if (IsBad(path) || (path.Contains('%', StringComparison.Ordinal) && IsBad(Uri.UnescapeDataString(path))))
        {
            return Message("The path");
        }
        foreach (var (key, values) in request.Query)
        {
            if (IsBad(key) || values.Any(IsBad))
            {
                return Message($"The query parameter '{Printable(key)}'");
            }
        }
        if (request.HasFormContentType)
        {
            IFormCollection form;
            try
            {
                form = await request.ReadFormAsync(request.HttpContext.RequestAborted);
            }
            catch (InvalidDataException e) when (e.Message.Contains("invalid characters", StringComparison.Ordinal))
            {
                // The form reader itself refuses a NUL ("The form value contains invalid characters").
                return Message("A form field");
            }
            catch (InvalidDataException e)
            {
                // Over the form limits (field count, length): as bad a request as a NUL, and said as plainly.
                return "The form could not be read: " + e.Message;
            }
            foreach (var (key, values) in form)
            {
                if (IsBad(key) || values.Any(IsBad))
                {
                    return Message($"The form field '{Printable(key)}'");
                }
            }
        }
        return null;
    }

    private static string Message(string where) =>
        where + " contains a NUL character or an unpaired UTF-16 surrogate (e.g. %00 or a lone \\uD800); remove it and try again.";

    /// <summary>A key to quote in the message: itself when clean and short, else a placeholder.</summary>
    private static string Printable(string key) => IsBad(key) || key.Length > 64 ? "(unprintable)" : key;

    /// <summary>True when <paramref name="value"/> holds a NUL or a surrogate without its pair.</summary>
    public static bool IsBad(string? value)
    {
        if (value is null)
        {
            return false;
        }
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '\0')
            {
                return true;
            }
            if (char.IsHighSurrogate(c))
            {
                if (i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
                {
                    i++;
                    continue;
                }
                return true;
            }
            if (char.IsLowSurrogate(c))
            {
                return true;
            }
        }
        return false;
    }
}
