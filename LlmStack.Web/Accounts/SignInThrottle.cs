using System.Net;
using LlmStack.Web.Security;
using Microsoft.Extensions.Options;

namespace LlmStack.Web.Accounts;

/// <summary>
/// Sign-in attempts per client address (<c>LlmStack:Accounts:AttemptsPerMinutePerAddress</c>), across every account.
/// Lockout stops guessing one account's password; this stops one address from trying a few passwords on many
/// accounts, and bounds the password hashing a stranger can make the server do. Behind the compose stack's proxy the
/// address is the client's (<c>LlmStack:TrustedProxy</c>), not the proxy's.
/// </summary>
public sealed class SignInThrottle(IOptions<AccountOptions> options) : IDisposable
{
    private readonly PerKeyBudget<IPAddress> _budget = new(options.Value.AttemptsPerMinutePerAddress);

    /// <summary>Null when the attempt may go ahead; otherwise how long to wait.</summary>
    public TimeSpan? TryAttempt(IPAddress? address) => _budget.TryTake(address ?? IPAddress.None);

    public void Dispose() => _budget.Dispose();
}
