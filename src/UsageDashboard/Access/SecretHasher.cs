using System.Security.Cryptography;
using System.Text;

namespace UsageDashboard.Access;

/// <summary>
/// Secrets (API tokens, write keys) are 32 random bytes shown once; only their SHA-256 is stored. A
/// fast hash is right here, unlike for passwords: the secret has 256 bits of entropy, so there is
/// nothing to brute-force, and lookups happen on every API request.
/// </summary>
public static class SecretHasher
{
    public static string NewSecret(string prefix) =>
        prefix + Base64Url(RandomNumberGenerator.GetBytes(32));

    public static byte[] Hash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));

    /// <summary>What may be shown of a secret to tell it apart: its type prefix and a few characters.</summary>
    public static string DisplayPrefix(string secret) => secret.Length <= 12 ? secret : secret[..12];

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
