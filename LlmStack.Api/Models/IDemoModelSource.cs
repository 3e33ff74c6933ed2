namespace LlmStack.Api.Models;

/// <summary>Supplies the built-in model served when no model is configured.</summary>
public interface IDemoModelSource
{
    Task<ServedModel> CreateDemoModelAsync(CancellationToken cancellationToken);
}
