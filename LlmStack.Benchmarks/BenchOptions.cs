using System.CommandLine;
using System.CommandLine.Parsing;
using LlmStack.Benchmarks.Hosting;
using LlmStack.Benchmarks.Load;

namespace LlmStack.Benchmarks;

/// <summary>The options several commands share, each with its default and its check.</summary>
internal static class BenchOptions
{
    public static readonly Option<int[]> Concurrency = new("--concurrency")
    {
        Description = "Concurrency levels of the sweep, e.g. --concurrency 1 2 4.",
        AllowMultipleArgumentsPerToken = true,
        DefaultValueFactory = _ => [1, 2, 4],
        Validators = { result => Each(result, 1, 256, "--concurrency") },
    };

    public static readonly Option<int> Requests = Positive(new("--requests")
    {
        Description = "Requests per concurrency level (at most).", DefaultValueFactory = _ => 8,
    });

    public static readonly Option<int> Duration = Positive(new("--duration")
    {
        Description = "Seconds per level after which no new request starts.", DefaultValueFactory = _ => 120,
    });

    public static readonly Option<int> MaxTokens = Positive(new("--max-tokens")
    {
        Description = "max_tokens of every request.", DefaultValueFactory = _ => 64,
    });

    public static readonly Option<int> PromptWords = Positive(new("--prompt-words")
    {
        Description = "Words of the user message (each request's prompt is unique, so no prompt cache helps).",
        DefaultValueFactory = _ => 60,
    });

    public static readonly Option<int> RequestTimeout = Positive(new("--request-timeout")
    {
        Description = "Seconds before one request is abandoned and counted as an error.", DefaultValueFactory = _ => 300,
    });

    public static readonly Option<FileInfo?> Json = new("--json") { Description = "Also write the figures to this JSON file." };

    public static readonly Option<string> Shape = new Option<string>("--shape")
    {
        Description = "Qwen2.5 shape of the generated random-weight model.", DefaultValueFactory = _ => "0.5b",
    }.AcceptOnlyFromAmong([.. BenchModels.Shapes.Keys]);

    public static readonly Option<DirectoryInfo> ModelsDir = new("--models-dir")
    {
        Description = "Where generated models are cached between runs.", DefaultValueFactory = _ => BenchModels.DefaultFolder,
    };

    public static readonly Option<int?> Threads = new("--threads") { Description = "Embedded Threads (default: the API's)." };

    public static readonly Option<int?> BatchSize = new("--batch-size") { Description = "Embedded BatchSize (default: the API's)." };

    public static readonly Option<int?> ParallelSlots = new("--parallel-slots") { Description = "Embedded ParallelSlots (default: the API's)." };

    public static readonly Option<int?> StepTokens = new("--step-tokens") { Description = "Embedded StepTokens (default: the API's)." };

    public static readonly Option<int?> TargetTokenGapMs = new("--target-gap-ms") { Description = "Embedded TargetTokenGap in milliseconds, 0 for fixed StepTokens steps (default: the API's)." };

    public static readonly Option<DirectoryInfo?> LlamaCpp = new("--llama-cpp")
    {
        Description = "LlmStack:LlamaCppLibraries: the folder of a llama.cpp build for this CPU (deploy/build-llama-cpp.sh) the API runs instead of LLamaSharp's (default: LLamaSharp's).",
    };

    public static readonly Option<long?> HostCacheBytes = new("--host-cache-bytes")
    {
        Description = "Embedded HostCacheBytes: host memory for conversations evicted from the KV cache, 0 for none (default: the API's).",
        Validators =
        {
            result =>
            {
                if (result.GetValueOrDefault<long?>() < 0)
                {
                    result.AddError("--host-cache-bytes must be 0 or more.");
                }
            },
        },
    };

    public static SweepLimits Limits(ParseResult parse) =>
        new(parse.GetValue(Concurrency)!, parse.GetValue(Requests), TimeSpan.FromSeconds(parse.GetValue(Duration)));

    public static Workload Workload(ParseResult parse, string model) =>
        new(model, parse.GetValue(PromptWords), parse.GetValue(MaxTokens));

    public static EmbeddedTuning Tuning(ParseResult parse) =>
        new(parse.GetValue(Threads), parse.GetValue(BatchSize), parse.GetValue(ParallelSlots), parse.GetValue(StepTokens),
            parse.GetValue(TargetTokenGapMs) is { } gap ? TimeSpan.FromMilliseconds(gap) : null, parse.GetValue(HostCacheBytes),
            parse.GetValue(LlamaCpp)?.FullName);

    /// <summary>A required server root on this machine: the load generator only targets loopback.</summary>
    public static Option<Uri> LoopbackUrl(string name, string description) => new(name)
    {
        Description = description,
        Required = true,
        CustomParser = result =>
        {
            var text = result.Tokens.Single().Value;
            if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri is { IsLoopback: true, Scheme: "http" or "https" })
            {
                return uri;
            }
            result.AddError($"{name} '{text}' must be an absolute http(s) URL on this machine (localhost, 127.0.0.1 or ::1): the load generator only targets loopback.");
            return null;
        },
    };

    /// <summary>Adds the check that the value is at least 1.</summary>
    public static Option<int> Positive(Option<int> option)
    {
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1)
            {
                result.AddError($"{option.Name} must be at least 1.");
            }
        });
        return option;
    }

    /// <summary>Adds the check that every value is at least 1.</summary>
    public static Option<int[]> AllPositive(Option<int[]> option)
    {
        option.Validators.Add(result => Each(result, 1, int.MaxValue, option.Name));
        return option;
    }

    private static void Each(OptionResult result, int min, int max, string name)
    {
        var values = result.GetValueOrDefault<int[]>() ?? [];
        if (values.Length == 0 || values.Any(v => v < min || v > max))
        {
            result.AddError(max == int.MaxValue ? $"{name} takes one or more values of at least {min}." : $"{name} takes one or more values from {min} to {max}.");
        }
    }
}
