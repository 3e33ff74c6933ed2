using Microsoft.Extensions.Configuration;

namespace LlmStack.AppHost;

/// <summary>Aspire's own setting of which container runtime to use (<c>docker</c> or <c>podman</c>), read in one place.</summary>
internal static class AspireContainerRuntime
{
    public const string Key = "ASPIRE_CONTAINER_RUNTIME";

    // The name Aspire read before 9.0; it still honours it.
    private const string LegacyKey = "DOTNET_ASPIRE_CONTAINER_RUNTIME";

    /// <summary>The configured runtime, or null when Aspire is left to choose (docker).</summary>
    public static string? Configured(IConfiguration configuration) =>
        configuration[Key] is { Length: > 0 } runtime ? runtime : configuration[LegacyKey] is { Length: > 0 } legacy ? legacy : null;

    /// <summary>Has Aspire use the runtime that answered (when only Podman did, Aspire would still talk to docker), unless one is configured.</summary>
    public static void UseAnswering(IConfiguration configuration, string? answeringRuntime)
    {
        if (answeringRuntime is not null && Configured(configuration) is null)
        {
            configuration[Key] = answeringRuntime;
        }
    }
}
