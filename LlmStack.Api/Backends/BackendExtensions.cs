namespace LlmStack.Api.Backends;

public static class BackendExtensions
{
    /// <summary>Registers every backend a model can name in <c>LlmStack:Models:&lt;n&gt;:Backend</c>.</summary>
    public static IHostApplicationBuilder AddModelBackends(this IHostApplicationBuilder builder)
    {
        return builder;
    }
}
