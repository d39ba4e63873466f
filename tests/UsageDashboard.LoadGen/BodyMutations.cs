using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace UsageDashboard.LoadGen;

/// <summary>
/// Malformed and hostile variants of valid request bodies: the test suite's seeded fuzzers
/// (tests/UsageDashboard.Tests/Ingestion, where this file is linked in) and the hostile-traffic benchmark share them.
/// </summary>
public static class BodyMutations
{
    private static readonly string[] s_hostile =
    [
        "'; DROP TABLE events; --", "<script>alert(1)</script>", "\u0000", "\u202Eevil\u202C", "💥🧨👩‍💻", "\uFFFF", "%00%ff",
        "${jndi:ldap://x}", "../../../../etc/passwd", "\r\n\r\nHTTP/1.1 200 OK", "NaN", "-0", "1e999999", "\\ud800", "Ω≈ç√∫",
    ];

    public static T Pick<T>(Random random, T[] items) => items[random.Next(items.Length)];

    /// <summary>One of: truncation, byte flips, invalid UTF-8, a value replaced by something hostile, deep nesting, huge strings, bad base64.</summary>
    public static byte[] Mutate(Random random, string seed)
    {
        var bytes = Encoding.UTF8.GetBytes(seed);
        switch (random.Next(10))
        {
            case 0:
                return bytes[..random.Next(bytes.Length)];
            case 1:
                for (var i = 0; i < 1 + random.Next(8); i++)
                {
                    bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                }
                return bytes;
            case 2:
                var at = random.Next(bytes.Length);
                byte[][] invalid = [[0xC3, 0x28], [0xFF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC0, 0xAF]];
                return [.. bytes[..at], .. Pick(random, invalid), .. bytes[at..]];
            case 3:
                var nest = random.Next(30, 5000);
                return Encoding.UTF8.GetBytes(seed.Insert(seed.IndexOf(':', StringComparison.Ordinal) + 1, new string('[', nest) + "1" + new string(']', nest)));
            default:
                return Encoding.UTF8.GetBytes(ReplaceValues(random, seed));
        }
    }

    private static string ReplaceValues(Random random, string seed)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(seed);
        }
        catch (System.Text.Json.JsonException)
        {
            return seed;
        }
        var nodes = new List<JsonNode>();
        void Walk(JsonNode? n, int depth)
        {
            if (n is null || depth > 12)
            {
                return;
            }
            nodes.Add(n);
            if (n is JsonObject o)
            {
                foreach (var kv in o.ToList())
                {
                    Walk(kv.Value, depth + 1);
                }
            }
            else if (n is JsonArray a)
            {
                foreach (var item in a.ToList())
                {
                    Walk(item, depth + 1);
                }
            }
        }
        Walk(root, 0);
        for (var i = 0; i < 1 + random.Next(4); i++)
        {
            var target = nodes[random.Next(nodes.Count)];
            if (target.Parent is JsonObject parent)
            {
                var key = parent.First(kv => ReferenceEquals(kv.Value, target)).Key;
                parent[key] = HostileValue(random);
            }
            else if (target.Parent is JsonArray array)
            {
                array[array.IndexOf(target)] = HostileValue(random);
            }
            else if (target is JsonObject obj)
            {
                obj[Pick(random, s_hostile)] = HostileValue(random);
            }
        }
        var text = root?.ToJsonString() ?? "null";
        // JsonNode escapes what it writes; put some raw hostile escapes back in.
        return random.Next(3) == 0 ? text.Replace("\"linux\"", "\"\\ud800\\u0000\"", StringComparison.Ordinal).Replace("\"mac\"", "\"\\udfff\"", StringComparison.Ordinal) : text;
    }

    private static JsonNode? HostileValue(Random random) => random.Next(12) switch
    {
        0 => null,
        1 => JsonValue.Create(random.NextDouble() * 1e300),
        2 => JsonValue.Create(long.MinValue),
        3 => JsonValue.Create(new string('x', random.Next(1, 80_000))),
        4 => JsonValue.Create(Pick(random, s_hostile)),
        5 => new JsonArray(JsonValue.Create(1), JsonValue.Create("a"), null),
        6 => new JsonObject { ["type"] = Pick(random, s_hostile), ["message"] = "hello from /home/x" },
        7 => JsonValue.Create(true),
        8 => JsonValue.Create("!!!!not-base64###"),
        9 => JsonValue.Create(Convert.ToBase64String(Encoding.UTF8.GetBytes("{\"schema\":\"iglu:a/b/c/1-0-0\",\"data\":[" + new string('[', 100)))),
        10 => JsonValue.Create("9999-12-31T23:59:59Z"),
        _ => JsonValue.Create(random.Next().ToString(CultureInfo.InvariantCulture)),
    };
}
