using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using LlmStack.Api.Backends;
using LlmStack.Api.Backends.Embedded;
using LlmStack.Api.ChatCompletions;
using LlmStack.Api.Configuration;
using LlmStack.Api.Contracts;
using LlmStack.Api.Errors;
using LlmStack.Benchmarks.Hosting;
using LlmStack.Benchmarks.Load;
using Microsoft.Extensions.AI;

namespace LlmStack.Benchmarks.Schemas;

/// <summary>
/// <c>schemas</c>: how long a structured request's schema takes on the request thread before admission, for every schema
/// of the hostile corpus (<see cref="HostileSchemas"/>, <see cref="LargeSchemas"/>), through the API's own code: the
/// chat body read (System.Text.Json, the API's contract), mapped to chat options (which bounds the schema:
/// <c>JsonSchemaBounds</c>), then the embedded engine's preparation (<c>EmbeddedChatClient.Prepare</c>: conversion to
/// GBNF and llama.cpp's parse). The target: a schema that fits the body limit takes less than 100 ms, or is refused.
/// </summary>
internal static class SchemasCommand
{
    /// <summary>The target per schema.</summary>
    private const double TargetMs = 100;

    public static Command Create()
    {
        var runs = BenchOptions.Positive(new("--runs") { Description = "Timed runs per schema (after one untimed run).", DefaultValueFactory = _ => 5 });
        var filter = new Option<string?>("--only") { Description = "Only the schemas whose name contains this text." };
        var grammars = new Option<DirectoryInfo?>("--write-grammars") { Description = "Write each accepted schema's GBNF to a file in this folder." };
        var command = new Command("schemas", "Time each hostile or large JSON schema from chat body to parsed grammar (or refusal), as the API does before admission.")
        {
            BenchOptions.ModelsDir, runs, filter, grammars,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var models = new BenchModels(parse.GetValue(BenchOptions.ModelsDir)!);
            await using var served = await InProcessModel.ServeAsync(new EmbeddedTuning(ParallelSlots: 1).ModelOptions("schemas", models.Scripted()));
            var preparation = served.ChatClient.GetService<IChatPreparation>()
                ?? throw new BenchmarkException("The embedded chat client prepares nothing before admission.");
            var only = parse.GetValue(filter);
            var corpus = HostileSchemas.All.Select(s => (s.Name, s.Json)).Concat(LargeSchemas.All)
                .Where(s => only is null || s.Name.Contains(only, StringComparison.OrdinalIgnoreCase)).ToList();

            Console.WriteLine($"{corpus.Count} schemas, {parse.GetValue(runs)} timed runs each; times are the median and the slowest run, in ms.");
            Console.WriteLine();
            Console.WriteLine("| Schema | Body bytes | Outcome | Read + map + bounds | Convert + parse | of which convert | Total (median / max) |");
            Console.WriteLine("|---|---:|---|---:|---:|---:|---:|");
            var slow = new List<string>();
            foreach (var (name, schema) in corpus)
            {
                var result = Measure(served, preparation, Body(schema), parse.GetValue(runs), cancellationToken);
                if (parse.GetValue(grammars) is { } folder && result.Grammar is { } gbnf)
                {
                    folder.Create();
                    await File.WriteAllTextAsync(Path.Combine(folder.FullName, string.Concat(name.Select(c => char.IsLetterOrDigit(c) ? c : '-')) + ".gbnf"), gbnf, cancellationToken);
                }
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {name} | {result.Bytes:N0} | {result.Outcome} | {result.MapMs:F1} | {result.PrepareMs:F1} | {result.ConvertMs:F1} | {result.TotalMs:F1} / {result.MaxMs:F1} |"));
                if (result.Accepted && result.MaxMs >= TargetMs)
                {
                    slow.Add(name);
                }
            }
            Console.WriteLine();
            Console.WriteLine(slow.Count == 0
                ? $"Every accepted schema took under {TargetMs} ms in every run."
                : $"Accepted and {TargetMs} ms or slower in some run: {string.Join("; ", slow)}");
        });
        return command;
    }

    private sealed record Result(int Bytes, string Outcome, bool Accepted, double MapMs, double PrepareMs, double ConvertMs, double TotalMs, double MaxMs, string? Grammar);

    private static byte[] Body(string schema) => Encoding.UTF8.GetBytes(
        """{"model":"schemas","messages":[{"role":"user","content":"Answer in JSON."}],"response_format":{"type":"json_schema","json_schema":{"name":"answer","strict":true,"schema":"""
        + schema + "}}}");

    private static Result Measure(ServedModel served, IChatPreparation preparation, byte[] body, int runs, CancellationToken cancellationToken)
    {
        var map = new List<double>();
        var prepare = new List<double>();
        var convert = new List<double>();
        var total = new List<double>();
        string? outcome = null;
        string? grammar = null;
        var accepted = false;
        // One untimed run first: the JIT and llama.cpp's first grammar are not the schema's cost.
        for (var run = -1; run < runs; run++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var clock = Stopwatch.StartNew();
            double mapped = 0;
            double converted = 0;
            try
            {
                var request = JsonSerializer.Deserialize(body, ApiJsonContext.Default.ChatCompletionRequest)!;
                var chat = request.ToChatRequest(served, new LlmStackOptions().MaxOutputTokens);
                mapped = clock.Elapsed.TotalMilliseconds;
                clock.Stop();
                // The conversion alone, apart (Prepare converts again, then has llama.cpp parse the grammar).
                var converting = Stopwatch.StartNew();
                try
                {
                    SchemaGrammar.For(chat.Options, cancellationToken);
                }
                catch (ApiErrorException)
                {
                }
                converted = converting.Elapsed.TotalMilliseconds;
                clock.Start();
                using var prepared = preparation.Prepare(chat.Options, cancellationToken);
                clock.Stop();
                grammar = SchemaGrammar.For(chat.Options, CancellationToken.None)!;
                outcome = "grammar" + GrammarSize(grammar);
                accepted = true;
            }
            catch (ApiErrorException ex)
            {
                if (mapped == 0)
                {
                    mapped = clock.Elapsed.TotalMilliseconds;
                }
                outcome = $"refused: {ex.Code} at `{Shorten(ex.Param ?? "")}` ({Shorten(ex.Message)})";
                accepted = false;
            }
            catch (JsonException ex)
            {
                mapped = clock.Elapsed.TotalMilliseconds;
                outcome = $"refused: body not read ({Shorten(ex.Message)})";
                accepted = false;
            }
            var elapsed = clock.Elapsed.TotalMilliseconds;
            if (run >= 0)
            {
                map.Add(mapped);
                prepare.Add(elapsed - mapped);
                convert.Add(converted);
                total.Add(elapsed);
            }
        }
        return new Result(body.Length, outcome!, accepted, Percentiles.Median(map)!.Value, Percentiles.Median(prepare)!.Value,
            Percentiles.Median(convert)!.Value, Percentiles.Median(total)!.Value, total.Max(), grammar);
    }

    // The grammar's size, computed apart from the timing (the conversion is deterministic).
    private static string GrammarSize(string gbnf)
    {
        var rules = gbnf.Split('\n').Count(line => line.Contains("::=", StringComparison.Ordinal));
        return string.Create(CultureInfo.InvariantCulture, $" ({rules:N0} rules, {gbnf.Length:N0} chars)");
    }

    private static string Shorten(string message)
    {
        var text = message.Replace("|", "\\|", StringComparison.Ordinal);
        return text.Length <= 110 ? text : text[..107] + "...";
    }
}
