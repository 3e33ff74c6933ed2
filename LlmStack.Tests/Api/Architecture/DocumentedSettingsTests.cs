using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using LlmStack.Api.Access;
using LlmStack.Api.Configuration;
using LlmStack.Api.Responses;

namespace LlmStack.Tests.Api.Architecture;

/// <summary>
/// The README's settings tables against the options classes: every setting is documented, and every default the README
/// states is the one the code uses - a default changed in the code (each is written once, on its options class) fails
/// here until the README says so too.
/// </summary>
public sealed partial class DocumentedSettingsTests
{
    /// <summary>Each options class with the prefix its keys have in the README (model entries' keys are written bare).</summary>
    private static readonly (Type Options, string Prefix)[] Sections =
    [
        (typeof(LlmStackOptions), "LlmStack:"),
        (typeof(ModelOptions), ""),
        (typeof(EmbeddedModelOptions), "Embedded:"),
        (typeof(OllamaModelOptions), "Ollama:"),
        (typeof(ReplicaOptions), "Replicas:<m>:"),
        (typeof(RoutingOptions), "Routing:"),
        (typeof(AuthOptions), "LlmStack:Auth:"),
        (typeof(ApiKeyOptions), "LlmStack:Auth:Keys:<n>:"),
        (typeof(ResponsesOptions), "LlmStack:Responses:"),
    ];

    /// <summary>Defaults that are not a property's initial value but a constant used when the property is unset.</summary>
    private static readonly Dictionary<(Type, string), object> UnsetDefaults = new()
    {
        [(typeof(EmbeddedModelOptions), nameof(EmbeddedModelOptions.BatchSize))] = EmbeddedModelOptions.DefaultBatchSize,
        [(typeof(EmbeddedModelOptions), nameof(EmbeddedModelOptions.StepTokens))] = EmbeddedModelOptions.DefaultStepTokens,
        [(typeof(EmbeddedModelOptions), nameof(EmbeddedModelOptions.ParallelSlots))] = EmbeddedModelOptions.DefaultParallelSlots,
        [(typeof(EmbeddedModelOptions), nameof(EmbeddedModelOptions.SlotPromptSimilarity))] = EmbeddedModelOptions.DefaultSlotPromptSimilarity,
        [(typeof(EmbeddedModelOptions), nameof(EmbeddedModelOptions.HostCacheBytes))] = EmbeddedModelOptions.DefaultHostCacheBytes,
        [(typeof(EmbeddedModelOptions), nameof(EmbeddedModelOptions.TargetTokenGap))] = EmbeddedModelOptions.DefaultTargetTokenGap,
        // "the model's own, capped at 4096" and "at most 16384": the README names the cap.
        [(typeof(EmbeddedModelOptions), nameof(EmbeddedModelOptions.ContextSize))] = EmbeddedModelOptions.DefaultMaxContextSize,
        [(typeof(EmbeddedModelOptions), nameof(EmbeddedModelOptions.KvCacheSize))] = EmbeddedModelOptions.DefaultKvCacheBudget,
        [(typeof(ModelOptions), nameof(ModelOptions.MaxConcurrentRequests))] = ModelOptions.DefaultMaxConcurrentRequests,
    };

    private static readonly string Readme = File.ReadAllText(Path.Combine(RepositoryRoot(), "README.md"));

    public static TheoryData<string> Settings => [.. Sections.SelectMany(section => Keys(section.Options).Select(p => section.Prefix + p.Name))];

    [Theory]
    [MemberData(nameof(Settings))]
    public void Every_setting_is_documented(string key)
    {
        Assert.True(Readme.Contains($"`{key}`", StringComparison.Ordinal) || Readme.Contains($"`LlmStack:Models:<n>:{key}`", StringComparison.Ordinal),
            $"README.md does not document `{key}`: add it to the settings table of its section.");
    }

    [Fact]
    public void Every_default_the_readme_states_is_the_code_s()
    {
        var stated = TableRows().ToList();
        var checkedCount = 0;
        foreach (var (options, prefix) in Sections)
        {
            foreach (var property in Keys(options))
            {
                if (Default(options, property) is not { } value)
                {
                    continue;
                }
                foreach (var row in stated.Where(row => row.Keys.Contains(prefix + property.Name)))
                {
                    var renderings = Renderings(value).ToList();
                    Assert.True(renderings.Any(r => row.Default.Contains(r, StringComparison.Ordinal)),
                        $"README.md says the default of `{prefix}{property.Name}` is \"{row.Default}\"; the code's is {renderings[0]}.");
                    checkedCount++;
                }
            }
        }
        // The tables are found at all: a README rewrite must not turn this test into one that checks nothing.
        Assert.True(checkedCount >= 15, $"only {checkedCount} stated defaults were found in the README's tables");
    }

    private static IEnumerable<PropertyInfo> Keys(Type options) =>
        options.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite && (p.PropertyType.IsValueType || p.PropertyType == typeof(string) || Nullable.GetUnderlyingType(p.PropertyType) is not null));

    private static object? Default(Type options, PropertyInfo property) =>
        UnsetDefaults.TryGetValue((options, property.Name), out var unset) ? unset
        : property.GetValue(Activator.CreateInstance(options)) is { } initial && !(initial is string { Length: 0 }) ? initial
        : null;

    /// <summary>How the README may write a value: <c>16</c>, <c>00:01:00</c>, <c>1.00:00:00</c>, <c>16 MiB</c>, <c>false</c>.</summary>
    private static IEnumerable<string> Renderings(object value)
    {
        switch (value)
        {
            case TimeSpan span:
                yield return span.ToString("c", CultureInfo.InvariantCulture);
                break;
            case bool flag:
                yield return flag ? "true" : "false";
                break;
            case IConvertible number when number is int or long or uint or ulong:
                var n = Convert.ToInt64(number, CultureInfo.InvariantCulture);
                yield return n.ToString(CultureInfo.InvariantCulture);
                yield return n.ToString("N0", CultureInfo.InvariantCulture);
                if (n >= 1024 * 1024 && n % (1024 * 1024) == 0)
                {
                    yield return $"{n / (1024 * 1024)} MiB";
                }
                break;
            default:
                yield return Convert.ToString(value, CultureInfo.InvariantCulture)!;
                break;
        }
    }

    /// <summary>
    /// Rows of the README's tables that have a "default" column: the backticked keys of the first cell, and that column's
    /// text (rows that send the reader elsewhere - "see the embedded section" - are left to the table they point to).
    /// </summary>
    private static IEnumerable<(HashSet<string> Keys, string Default)> TableRows()
    {
        var lines = Readme.Split('\n');
        var defaultColumn = -1;
        for (var i = 0; i < lines.Length; i++)
        {
            var cells = lines[i].Split('|');
            if (!lines[i].StartsWith('|'))
            {
                defaultColumn = -1;
                continue;
            }
            if (i + 1 < lines.Length && lines[i + 1].StartsWith("|-", StringComparison.Ordinal))
            {
                defaultColumn = Array.FindIndex(cells, c => c.Trim().Equals("default", StringComparison.OrdinalIgnoreCase));
                i++;
                continue;
            }
            if (defaultColumn < 1 || defaultColumn >= cells.Length || cells[defaultColumn].Contains("see ", StringComparison.Ordinal))
            {
                continue;
            }
            var keys = BacktickedKey().Matches(cells[1]).Select(m => m.Groups[1].Value);
            // A row written for the model entry may name its keys with the full prefix.
            yield return ([.. keys.Select(k => k.Replace("LlmStack:Models:<n>:", "", StringComparison.Ordinal))], cells[defaultColumn]);
        }
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LlmStack.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("The repository root (LlmStack.sln) was not found above the test's directory.");
    }

    [GeneratedRegex("`([^`]+)`")]
    private static partial Regex BacktickedKey();
}
