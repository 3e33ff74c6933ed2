using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace LlmStack.AppHost.Hosting;

/// <summary>The AppHost's <c>Api</c> configuration section: how many API processes serve the stack.</summary>
internal sealed record ApiReplicaSettings(int Replicas)
{
    public const string ReplicasKey = "Api:Replicas";

    public const int DefaultReplicas = 1;

    // Each replica is a whole API process (and loads an embedded model of its own): more than this on one machine is a mistake.
    public const int MaxReplicas = 16;

    /// <summary>Reads and checks the section; a bad value stops the AppHost with a message naming the key.</summary>
    public static ApiReplicaSettings Read(IConfiguration configuration)
    {
        var text = configuration[ReplicasKey];
        if (string.IsNullOrWhiteSpace(text))
        {
            return new(DefaultReplicas);
        }
        return int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var replicas) && replicas is >= 1 and <= MaxReplicas
            ? new(replicas)
            : throw new DistributedApplicationException(
                $"LlmStack cannot start: {ReplicasKey} '{text}' is not a number of API processes from 1 to {MaxReplicas}.");
    }
}
