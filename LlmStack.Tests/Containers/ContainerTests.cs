namespace LlmStack.Tests.Containers;

/// <summary>
/// The container tests run one class at a time: each brings up containers on the one engine of the machine, and
/// two image builds or stacks at once only make each slower on a 2-core box.
/// </summary>
[CollectionDefinition(Collection, DisableParallelization = true)]
public sealed class ContainerTests
{
    public const string Collection = "Containers";
}
