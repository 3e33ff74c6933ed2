using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using LLama.Native;
using LlmStack.Api.Backends.Embedded;
using LlmStack.Gguf;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Backends.Embedded;

/// <summary>
/// <c>LlmStack:LlamaCppLibraries</c>: the API runs the llama.cpp build in a folder instead of LLamaSharp's, refuses one of
/// another commit, and names the instruction sets of the CPU that the build in use does not use. The build here is a copy
/// of LLamaSharp's own avx2 folder (a different build from the avx512 one LLamaSharp picks on this machine's CPU).
/// </summary>
public sealed class LlamaCppLibraryTests : IDisposable
{
    // LLamaSharp's prebuilt avx512 build on an AVX512-VNNI Xeon (this machine): llama_print_system_info.
    private const string PrebuiltAvx512 = "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | AVX512 = 1 | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | ";
    // The same commit built with -DGGML_NATIVE=ON there (deploy/build-llama-cpp.sh).
    private const string NativeBuild = "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX_VNNI = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | ";

    private static readonly HashSet<string> VnniXeon = ["fpu", "pni", "ssse3", "avx", "avx2", "f16c", "fma", "bmi2", "avx512f", "avx512vbmi", "avx512_vnni", "avx512_bf16", "avx_vnni"];

    private static readonly string Prebuilt = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "avx2");

    private readonly string _directory = Directory.CreateTempSubdirectory("llmstack-llamacpp-").FullName;

    public LlamaCppLibraryTests()
    {
        // LLamaSharp loads its own build first, so the copies these tests open by path are only read, never linked against.
        _ = NativeApi.llama_max_devices();
    }

    [Fact]
    public void The_prebuilt_avx512_build_leaves_the_cpus_vnni_and_bf16_unused_and_a_native_build_none()
    {
        Assert.Equal(["AVX_VNNI", "AVX512_VBMI", "AVX512_VNNI", "AVX512_BF16"], LlamaCppLibrary.Unused(PrebuiltAvx512, VnniXeon));
        Assert.Empty(LlamaCppLibrary.Unused(NativeBuild, VnniXeon));
        // A CPU without AVX-512 misses nothing in an AVX2 build.
        Assert.Empty(LlamaCppLibrary.Unused(PrebuiltAvx512.Replace("AVX512 = 1 | ", "", StringComparison.Ordinal), new HashSet<string> { "pni", "ssse3", "avx", "avx2", "f16c", "fma", "bmi2" }));
        // An ARM build reports no x86 feature: nothing to compare.
        Assert.Empty(LlamaCppLibrary.Unused("CPU : NEON = 1 | ARM_FMA = 1 | DOTPROD = 1 | REPACK = 1 | ", VnniXeon));
    }

    [Fact]
    public void LLamaSharps_own_build_is_of_the_commit_the_project_names()
    {
        // Fails when LLamaSharp is upgraded and LlamaCppCommit (Directory.Packages.props) is not.
        Assert.Null(LlamaCppLibrary.Problem(Prebuilt, "key"));
        Assert.Equal(40, LlamaCppLibrary.ExpectedCommit.Length);
        Assert.False(LlamaCppLibrary.IsExpected("0123abc"));
        Assert.True(LlamaCppLibrary.IsExpected(LlamaCppLibrary.ExpectedCommit[..9] + "-dirty"));
    }

    [Fact]
    public void A_missing_or_incomplete_folder_is_refused_naming_the_key_and_what_is_missing()
    {
        var absent = Path.Combine(_directory, "absent");
        Assert.StartsWith($"key '{absent}' is not a folder", LlamaCppLibrary.Problem(absent, "key"), StringComparison.Ordinal);

        File.Copy(Path.Combine(Prebuilt, "libllama.so"), Path.Combine(_directory, "libllama.so"));
        var problem = LlamaCppLibrary.Problem(_directory, "key");

        Assert.StartsWith($"key '{_directory}' has no libggml.so, libggml-base.so, libggml-cpu.so", problem, StringComparison.Ordinal);
        Assert.Contains("deploy/build-llama-cpp.sh", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_build_of_another_commit_is_refused_before_it_can_crash_the_process()
    {
        var other = CopyOfPrebuilt("other", commit: "0badc0de1");

        var problem = LlamaCppLibrary.Problem(other, "LlmStack:LlamaCppLibraries");

        Assert.StartsWith($"LlmStack:LlamaCppLibraries '{other}' is llama.cpp 0badc0de1, but LLamaSharp", problem, StringComparison.Ordinal);
        Assert.Contains($"is built for {LlamaCppLibrary.ExpectedCommit[..9]}", problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_api_runs_the_build_in_the_folder_and_says_which_and_what_it_leaves_unused()
    {
        var folder = CopyOfPrebuilt("avx2");
        var model = Path.Combine(_directory, "native.gguf");
        ScriptedModel.Write(model, new ScriptedModelSpec("The folder's llama.cpp answers."));
        await using var api = new KillableApiProcess(new Dictionary<string, string>
        {
            ["LlmStack:Models:0:Id"] = "m",
            ["LlmStack:Models:0:Backend"] = "embedded",
            ["LlmStack:Models:0:Path"] = model,
            ["LlmStack:LlamaCppLibraries"] = folder,
            ["Logging:LogLevel:LlmStack.Api.Backends.Embedded"] = "Information",
        });
        await api.StartAsync();

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{api.Port}") };
        using var reply = await http.PostAsJsonAsync("/v1/chat/completions",
            new { model = "m", messages = new[] { new { role = "user", content = "Who answers?" } } }, TestContext.Current.CancellationToken);
        var body = await reply.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);

        Assert.True(reply.IsSuccessStatusCode, body);
        Assert.Equal("The folder's llama.cpp answers.", JsonDocument.Parse(body).RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        var loaded = api.Output.Split('\n').Select(l => l.Trim()).SingleOrDefault(l => l.StartsWith("llama.cpp ", StringComparison.Ordinal));
        Assert.True(loaded is not null, api.Output);
        Assert.StartsWith($"llama.cpp {LlamaCppLibrary.ExpectedCommit[..9]} from {Path.Combine(folder, "libllama.so")}: CPU : ", loaded, StringComparison.Ordinal);
        // The features are those of the folder's ggml-cpu: the avx2 build's, whatever this CPU has.
        Assert.Contains("AVX2 = 1", loaded, StringComparison.Ordinal);
        Assert.DoesNotContain("AVX512", loaded, StringComparison.Ordinal);
        if (File.ReadAllText("/proc/cpuinfo").Contains(" avx512f ", StringComparison.Ordinal))
        {
            Assert.Matches("This CPU has [A-Z0-9_, ]*AVX512[,:]", api.Output);
            Assert.Contains("deploy/build-llama-cpp.sh", api.Output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_api_does_not_start_on_a_build_of_another_commit_and_says_why()
    {
        var folder = CopyOfPrebuilt("stale", commit: "0badc0de1");
        await using var api = new KillableApiProcess(new Dictionary<string, string>
        {
            ["LlmStack:Models:0:Id"] = "m",
            ["LlmStack:Models:0:Backend"] = "ollama",
            ["LlmStack:Models:0:Endpoint"] = "http://127.0.0.1:9",
            ["LlmStack:LlamaCppLibraries"] = folder,
        });

        var exitCode = await api.RunToExitAsync();

        Assert.NotEqual(0, exitCode);
        Assert.Contains($"LlmStack:LlamaCppLibraries '{folder}' is llama.cpp 0badc0de1", api.Output, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>A copy of LLamaSharp's avx2 build; with <paramref name="commit"/>, its ggml-base says it is of that commit.</summary>
    private string CopyOfPrebuilt(string name, string? commit = null)
    {
        var folder = Directory.CreateDirectory(Path.Combine(_directory, name)).FullName;
        foreach (var file in Directory.GetFiles(Prebuilt))
        {
            File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        }
        if (commit is not null)
        {
            // ggml_commit() returns a string constant: the build's short hash, NUL-terminated.
            var path = Path.Combine(folder, "libggml-base.so");
            var bytes = File.ReadAllBytes(path);
            var expected = Encoding.ASCII.GetBytes(LlamaCppLibrary.ExpectedCommit[..commit.Length] + "\0");
            var at = bytes.AsSpan().IndexOf(expected);
            Assert.True(at > 0 && bytes[at - 1] == 0, "the prebuilt ggml-base holds its commit as a string of its own");
            Encoding.ASCII.GetBytes(commit).CopyTo(bytes, at);
            File.WriteAllBytes(path, bytes);
        }
        return folder;
    }
}
