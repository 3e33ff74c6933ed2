using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using LLama;
using LLama.Common;
using LLama.Extensions;
using LLama.Native;

namespace LlmStack.Benchmarks.Hosting;

/// <summary>
/// <c>kv-span</c>: llama.cpp alone (no API), the context the API's scheduler makes (one unified KV cache, 16
/// sequences), timing a decode step of <c>--streams</c> generating sequences while other, idle sequences hold KV
/// cells below or above theirs, with flash attention off and on. llama.cpp attends over every cell up to the highest
/// one in use (its <c>n_kv</c>), whoever holds it: this shows what idle conversations held in the live cache cost.
/// </summary>
internal static class KvSpanCommand
{
    private static readonly Option<int> Streams = new("--streams") { Description = "Generating sequences.", DefaultValueFactory = _ => 8 };
    private static readonly Option<int> StreamTokens = new("--stream-tokens") { Description = "Tokens each generating sequence holds before the timed steps.", DefaultValueFactory = _ => 200 };
    private static readonly Option<int> IdleTokens = new("--idle-tokens") { Description = "Tokens held by idle sequences in all (split over 8 of them).", DefaultValueFactory = _ => 13_600 };
    private static readonly Option<int> Steps = new("--steps") { Description = "Timed decode steps per case.", DefaultValueFactory = _ => 20 };
    private static readonly Option<int> CacheTokens = new("--kv-cache") { Description = "KV cache size (tokens).", DefaultValueFactory = _ => 16_384 };

    public static Command Create()
    {
        var command = new Command("kv-span", "Time a decode step of N generating sequences with idle sequences' KV below, above or out of the live cache (llama.cpp alone), flash attention off and on.")
        {
            BenchOptions.Shape, BenchOptions.ModelsDir, BenchOptions.Threads, Streams, StreamTokens, IdleTokens, Steps, CacheTokens,
        };
        command.SetAction(parse =>
        {
            var path = new BenchModels(parse.GetValue(BenchOptions.ModelsDir)!).Random(parse.GetValue(BenchOptions.Shape)!);
            var threads = parse.GetValue(BenchOptions.Threads) ?? Environment.ProcessorCount;
            var streams = parse.GetValue(Streams);
            var streamTokens = parse.GetValue(StreamTokens);
            var idleTokens = parse.GetValue(IdleTokens);
            var steps = parse.GetValue(Steps);
            var cache = parse.GetValue(CacheTokens);
            NativeLogConfig.llama_log_set((_, _) => { });
            var parameters = new ModelParams(path) { Threads = threads, BatchThreads = threads, BatchSize = 512, UBatchSize = 512 };
            using var weights = LLamaWeights.LoadFromFile(parameters);
            Console.WriteLine($"{Path.GetFileName(path)}, {threads} thread(s), KV cache {cache}, {streams} streams of {streamTokens} tokens, idle sequences holding {idleTokens} tokens, {steps} steps a case");
            parameters.ToLlamaContextParams(out var defaults);
            Console.WriteLine($"LLamaSharp's ModelParams default: {defaults.llama_flash_attn_type}");
            Console.WriteLine("flash attention | case | ms per step (mean) | min");
            foreach (var flash in new[] { LLamaFlashAttentionType.LLAMA_FLASH_ATTENTION_TYPE_DISABLED, LLamaFlashAttentionType.LLAMA_FLASH_ATTENTION_TYPE_ENABLED })
            {
                foreach (var (layout, mean, min) in Measure(weights, parameters, flash, cache, streams, streamTokens, idleTokens, steps))
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{(flash == LLamaFlashAttentionType.LLAMA_FLASH_ATTENTION_TYPE_ENABLED ? "on" : "off")} | {Describe(layout)} | {mean:F1} | {min:F1}"));
                }
            }
        });
        return command;
    }

    private enum Layout
    {
        StreamsOnly,
        IdleBelow,
        IdleAbove,
        IdleAboveRemoved,
        IdleBelowRemoved,
    }

    private static string Describe(Layout layout) => layout switch
    {
        Layout.StreamsOnly => "streams only",
        Layout.IdleBelow => "idle cells below the streams' (decoded first)",
        Layout.IdleAbove => "idle cells above the streams' (decoded after)",
        Layout.IdleAboveRemoved => "idle cells above, then removed (llama_memory_seq_rm)",
        Layout.IdleBelowRemoved => "idle cells below, then removed: the streams' cells stay high",
        _ => layout.ToString(),
    };

    private const int IdleSequences = 8;

    // One context per flash-attention setting; each case starts from an empty cache. The idle sequences' cells are
    // filled by restoring one saved sequence state into each (a copy, placed by llama.cpp like a decode), so the
    // cases cost seconds, not a prompt evaluation of the whole cache each.
    private static IEnumerable<(Layout Layout, double Mean, double Min)> Measure(LLamaWeights weights, ModelParams parameters, LLamaFlashAttentionType flash,
        int cache, int streams, int streamTokens, int idleTokens, int steps)
    {
        parameters.ToLlamaContextParams(out var native);
        native.n_ctx = (uint)cache;
        native.n_seq_max = (uint)(streams + IdleSequences);
        native.n_batch = 512;
        native.n_ubatch = 512;
        native.kv_unified = true;
        native.llama_flash_attn_type = flash;
        using var context = SafeLLamaContextHandle.Create(weights.NativeHandle, native);
        var random = new Random(7);
        var batch = new LLamaBatch();
        void Fill(int sequence, int tokens)
        {
            for (var done = 0; done < tokens; done += 512)
            {
                batch.Clear();
                var chunk = Math.Min(512, tokens - done);
                batch.AddRange(Enumerable.Range(0, chunk).Select(_ => (LLamaToken)random.Next(1000, 20_000)).ToArray(), done, (LLamaSeqId)sequence, logitsLast: false);
                Check(context.Decode(batch));
            }
        }
        var idle = SaveOne(context, Fill, idleTokens / IdleSequences);
        var stream = SaveOne(context, Fill, streamTokens);
        // What moving a conversation between the live cache and host memory costs: a save and a restore of one idle sequence.
        context.MemoryClear();
        var clock = Stopwatch.StartNew();
        Restore(context, idle, 0);
        var restored = clock.Elapsed.TotalMilliseconds;
        clock.Restart();
        SaveState(context, 0);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{flash}: one sequence of {idleTokens / IdleSequences} tokens ({idle.Length / 1024.0 / 1024.0:F1} MiB): saved in {clock.Elapsed.TotalMilliseconds:F1} ms, restored in {restored:F1} ms"));
        void RestoreAll(int first, int count, byte[] state)
        {
            for (var s = first; s < first + count; s++)
            {
                Restore(context, state, s);
            }
        }
        foreach (var layout in Enum.GetValues<Layout>())
        {
            context.MemoryClear();
            if (layout is Layout.IdleBelow or Layout.IdleBelowRemoved)
            {
                RestoreAll(streams, IdleSequences, idle);
            }
            RestoreAll(0, streams, stream);
            if (layout is Layout.IdleAbove or Layout.IdleAboveRemoved)
            {
                RestoreAll(streams, IdleSequences, idle);
            }
            if (layout is Layout.IdleAboveRemoved or Layout.IdleBelowRemoved)
            {
                for (var s = streams; s < streams + IdleSequences; s++)
                {
                    context.MemorySequenceRemove((LLamaSeqId)s, 0, -1);
                }
            }
            var times = new List<double>();
            for (var step = 0; step <= steps; step++)
            {
                batch.Clear();
                for (var s = 0; s < streams; s++)
                {
                    batch.Add(random.Next(1000, 20_000), streamTokens + step, (LLamaSeqId)s, logits: true);
                }
                var started = Stopwatch.GetTimestamp();
                Check(context.Decode(batch));
                // The first step after a change of layout may rebuild the graph: not timed.
                if (step > 0)
                {
                    times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
            }
            yield return (layout, times.Average(), times.Min());
        }
    }

    private static unsafe byte[] SaveOne(SafeLLamaContextHandle context, Action<int, int> fill, int tokens)
    {
        context.MemoryClear();
        fill(0, tokens);
        return SaveState(context, 0);
    }

    private static unsafe byte[] SaveState(SafeLLamaContextHandle context, int sequence)
    {
        var size = context.GetStateSize((LLamaSeqId)sequence);
        var state = new byte[size];
        fixed (byte* destination = state)
        {
            context.GetState(destination, size, (LLamaSeqId)sequence);
        }
        return state;
    }

    private static unsafe void Restore(SafeLLamaContextHandle context, byte[] state, int sequence)
    {
        fixed (byte* source = state)
        {
            if (context.SetState(source, (nuint)state.Length, (LLamaSeqId)sequence) == 0)
            {
                throw new BenchmarkException("llama.cpp could not restore a sequence state (too few free KV cells).");
            }
        }
    }

    private static void Check(DecodeResult result)
    {
        if (result != DecodeResult.Ok)
        {
            throw new BenchmarkException($"llama.cpp failed to decode: {result}.");
        }
    }
}
