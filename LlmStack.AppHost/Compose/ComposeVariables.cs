using System.Text;

namespace LlmStack.AppHost.Compose;

/// <summary>
/// A setting of the compose project that the user may (or must) set in <c>.env</c>. Written into
/// <c>docker-compose.yaml</c> as <c>${NAME:-default}</c> (or <c>${NAME:?...}</c> when required) and listed, with
/// its description, in <c>.env.example</c>.
/// </summary>
/// <param name="Name">The variable, e.g. <c>LLMSTACK_API_PORT</c>.</param>
/// <param name="Default">The value when unset; null makes the variable required.</param>
/// <param name="Description">One or two sentences for <c>.env.example</c>.</param>
/// <param name="Group">The heading it is listed under in <c>.env.example</c>.</param>
/// <param name="ExampleValue">A value <c>.env.example</c> sets (uncommented), when the user should decide it.</param>
internal sealed record ComposeVariable(string Name, string? Default, string Description, string Group = "General", string? ExampleValue = null)
{
    /// <summary>The interpolation Compose resolves: <c>${NAME:-default}</c>, or <c>${NAME:?...}</c> with no default.</summary>
    public string Reference => Default is null
        ? $"${{{Name}:?set {Name} in .env (see .env.example)}}"
        : $"${{{Name}:-{Default}}}";
}

/// <summary>The variables the compose file uses, collected while it is written; becomes <c>.env.example</c>.</summary>
internal sealed class ComposeVariables
{
    /// <summary>The group listed first in <c>.env.example</c>: the choices a user makes before anything else.</summary>
    public const string FirstGroup = "Deployment";

    private readonly Dictionary<string, ComposeVariable> _variables = new(StringComparer.Ordinal);

    public IReadOnlyCollection<ComposeVariable> All => _variables.Values;

    /// <summary>Registers <paramref name="variable"/> and returns its interpolation; one name means one variable.</summary>
    public string Use(ComposeVariable variable)
    {
        if (_variables.TryGetValue(variable.Name, out var known) && known != variable)
        {
            throw new InvalidOperationException(
                $"The compose variable {variable.Name} is declared twice with different defaults or descriptions.");
        }
        _variables[variable.Name] = variable;
        return variable.Reference;
    }

    /// <summary>Lists a variable that Compose itself reads (e.g. <c>COMPOSE_PROFILES</c>) without using it in the file.</summary>
    public void Declare(ComposeVariable variable) => Use(variable);

    /// <summary>
    /// <c>.env.example</c>: every variable, grouped, each with its description; those with a default are commented
    /// out at their default, the required ones (and those with an example value) are set.
    /// </summary>
    public string ToEnvExample(string header)
    {
        var text = new StringBuilder();
        foreach (var line in header.Split('\n'))
        {
            text.Append("# ").AppendLine(line.TrimEnd());
        }
        // Groups in the order their first variable was used, the deployment choice first.
        foreach (var group in _variables.Values.GroupBy(v => v.Group).OrderBy(g => g.Key == FirstGroup ? 0 : 1))
        {
            text.AppendLine().Append("# --- ").Append(group.Key).AppendLine(" ---");
            foreach (var variable in group.OrderBy(v => v.Name, StringComparer.Ordinal))
            {
                text.AppendLine();
                foreach (var line in variable.Description.Split('\n'))
                {
                    text.Append("# ").AppendLine(line.TrimEnd());
                }
                text.AppendLine(variable switch
                {
                    { ExampleValue: { } example } => $"{variable.Name}={example}",
                    { Default: null } => $"{variable.Name}=",
                    _ => $"# {variable.Name}={variable.Default}",
                });
            }
        }
        return text.ToString();
    }
}
