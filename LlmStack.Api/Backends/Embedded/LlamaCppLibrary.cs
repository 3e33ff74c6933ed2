using System.Reflection;
using System.Runtime.InteropServices;
using LLama.Native;
using LlmStack.Api.Configuration;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.Backends.Embedded;

/// <summary>
/// Which llama.cpp build runs the embedded models: LLamaSharp's prebuilt one (its <c>avx512</c>, <c>avx2</c>, ... folder,
/// chosen for the CPU), or the build in <c>LlmStack:LlamaCppLibraries</c> - one made for this machine's CPU by
/// <c>deploy/build-llama-cpp.sh</c>, of the commit LLamaSharp binds (<see cref="ExpectedCommit"/>). The choice is
/// process-wide and must be made before llama.cpp is first called. Once loaded, the build and the instruction sets it
/// uses are logged, with a warning naming those the CPU has and the build does not use (LLamaSharp's avx512 build has
/// no AVX512-VNNI, which the Q8_0 matrix products of prompt processing use).
/// </summary>
internal static class LlamaCppLibrary
{
    /// <summary>The ggml library whose <c>ggml_commit()</c> names the build's commit.</summary>
    private const string BaseLibrary = "ggml-base";

    // The libraries LLamaSharp loads from a folder (NativeLibraryUtils): libllama and what it needs.
    private static readonly string[] RequiredLibraries = ["llama", "ggml", BaseLibrary, "ggml-cpu"];

    // ggml's CPU feature names (ggml_backend_cpu_get_features) and the /proc/cpuinfo flag of each.
    private static readonly (string Feature, string CpuFlag)[] X86Features =
    [
        ("SSE3", "pni"), ("SSSE3", "ssse3"), ("AVX", "avx"), ("AVX_VNNI", "avx_vnni"), ("AVX2", "avx2"), ("F16C", "f16c"),
        ("FMA", "fma"), ("BMI2", "bmi2"), ("AVX512", "avx512f"), ("AVX512_VBMI", "avx512vbmi"), ("AVX512_VNNI", "avx512_vnni"),
        ("AVX512_BF16", "avx512_bf16"), ("AMX_INT8", "amx_int8"),
    ];

    private static readonly Lock s_gate = new();
    private static string? s_configured;
    private static int s_described;

    /// <summary>The llama.cpp commit LLamaSharp is built from (<c>LlamaCppCommit</c> in Directory.Packages.props).</summary>
    public static string ExpectedCommit { get; } =
        typeof(LlamaCppLibrary).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "LlamaCppCommit").Value!;

    /// <summary>The file name of llama.cpp library <paramref name="name"/> on this OS (<c>libllama.so</c>, <c>llama.dll</c>, ...).</summary>
    public static string FileName(string name) =>
        OperatingSystem.IsWindows() ? $"{name}.dll" : OperatingSystem.IsMacOS() ? $"lib{name}.dylib" : $"lib{name}.so";

    /// <summary>
    /// Why the build in <paramref name="folder"/> cannot be used (missing, incomplete, another commit's), naming
    /// <paramref name="key"/>; null when it can. Reading its commit loads its ggml-base library, as LLamaSharp would.
    /// </summary>
    public static string? Problem(string folder, string key)
    {
        const string Fix = "deploy/build-llama-cpp.sh builds one";
        if (!Directory.Exists(folder))
        {
            return $"{key} '{folder}' is not a folder: it should hold a llama.cpp build of commit {ExpectedCommit[..9]} ({Fix}).";
        }
        var missing = RequiredLibraries.Select(FileName).Where(file => !File.Exists(Path.Combine(folder, file))).ToList();
        if (missing.Count > 0)
        {
            return $"{key} '{folder}' has no {string.Join(", ", missing)}: it should hold a llama.cpp build (the shared libraries of commit {ExpectedCommit[..9]}; {Fix}).";
        }
        string commit;
        try
        {
            commit = CommitOf(Path.Combine(folder, FileName(BaseLibrary)));
        }
        catch (Exception ex) when (ex is DllNotFoundException or BadImageFormatException or EntryPointNotFoundException)
        {
            return $"{key}: {FileName(BaseLibrary)} in '{folder}' cannot be loaded: {ex.Message}";
        }
        return IsExpected(commit)
            ? null
            : $"{key} '{folder}' is llama.cpp {commit}, but LLamaSharp {typeof(NativeApi).Assembly.GetName().Version?.ToString(3)} is built for {ExpectedCommit[..9]}: its functions may differ and crash the process. Build {ExpectedCommit[..9]} ({Fix}).";
    }

    /// <summary>
    /// Whether <paramref name="commit"/> (ggml's <c>git rev-parse --short</c>, "unknown" when built outside git) may be
    /// <see cref="ExpectedCommit"/>: a build whose commit is unknown is trusted, and its log line says so.
    /// </summary>
    public static bool IsExpected(string commit)
    {
        var hash = commit.EndsWith("-dirty", StringComparison.Ordinal) ? commit[..^"-dirty".Length] : commit;
        return hash == "unknown" || (hash.Length >= 7 && ExpectedCommit.StartsWith(hash, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>
    /// Makes LLamaSharp load llama.cpp from <paramref name="folder"/> (validated by <see cref="Problem"/> at start); null
    /// keeps LLamaSharp's own choice. Process-wide: once llama.cpp is loaded, only the same choice is accepted.
    /// </summary>
    public static void Use(string? folder)
    {
        var full = folder is { Length: > 0 } ? Path.GetFullPath(folder) : null;
        lock (s_gate)
        {
            if (NativeLibraryConfig.LLama.LibraryHasLoaded)
            {
                if (full != s_configured)
                {
                    throw new InvalidOperationException(
                        $"llama.cpp is already loaded from {s_configured ?? "LLamaSharp's own builds"}; it cannot be switched to {full ?? "LLamaSharp's own builds"} in this process.");
                }
                return;
            }
            if (full is not null)
            {
                var mtmd = Path.Combine(full, FileName("mtmd"));
                NativeLibraryConfig.All.WithLibrary(Path.Combine(full, FileName("llama")), File.Exists(mtmd) ? mtmd : null);
            }
            s_configured = full;
        }
    }

    /// <summary>
    /// Logs, once per process and after llama.cpp is loaded, which build runs (its commit, file and instruction sets),
    /// and warns when the CPU has instruction sets the build does not use.
    /// </summary>
    public static void Describe(ILogger logger)
    {
        if (Interlocked.Exchange(ref s_described, 1) != 0)
        {
            return;
        }
        var systemInfo = Marshal.PtrToStringUTF8(NativeApi.llama_print_system_info()) ?? "";
        var library = LoadedPath("llama") ?? (s_configured is null ? "LLamaSharp's build" : Path.Combine(s_configured, FileName("llama")));
        var basePath = LoadedPath(BaseLibrary);
        var commit = basePath is null ? "unknown" : CommitOf(basePath);
        logger.LogInformation("llama.cpp {Commit} from {Library}: {Features}", commit, library, systemInfo.Trim().TrimEnd('|').Trim());
        if (commit.StartsWith("unknown", StringComparison.Ordinal))
        {
            logger.LogWarning("The llama.cpp build in {Library} does not say its commit (built outside git): it must be {Expected}, the commit LLamaSharp is built for.", library, ExpectedCommit);
        }
        if (ReadCpuFlags() is { } cpuFlags && Unused(systemInfo, cpuFlags) is { Count: > 0 } unused)
        {
            logger.LogWarning(
                "This CPU has {Unused}, which the llama.cpp build in {Library} does not use: prompt processing is slower than this machine allows (docs/benchmarks.md, \"llama.cpp built for the CPU\"). deploy/build-llama-cpp.sh builds llama.cpp for this CPU; point LlmStack:LlamaCppLibraries at the folder it prints.",
                string.Join(", ", unused), library);
        }
    }

    /// <summary>The instruction sets in <paramref name="cpuFlags"/> (/proc/cpuinfo's) that <paramref name="systemInfo"/> (<c>llama_print_system_info</c>) does not list as used.</summary>
    public static IReadOnlyList<string> Unused(string systemInfo, IReadOnlySet<string> cpuFlags)
    {
        var used = systemInfo.Split('|', StringSplitOptions.TrimEntries)
            .Select(part => part.Split('=', StringSplitOptions.TrimEntries))
            .Where(pair => pair.Length == 2 && pair[1] == "1")
            // "CPU : SSE3 = 1": the backend's name comes first.
            .Select(pair => pair[0].Split(':', StringSplitOptions.TrimEntries)[^1])
            .ToHashSet(StringComparer.Ordinal);
        // Only a build that reports x86 features at all is compared (an ARM build lists NEON and the like).
        return used.Overlaps(X86Features.Select(f => f.Feature))
            ? [.. X86Features.Where(f => cpuFlags.Contains(f.CpuFlag) && !used.Contains(f.Feature)).Select(f => f.Feature)]
            : [];
    }

    /// <summary>The flags of the first processor in /proc/cpuinfo; null where there is none (not Linux).</summary>
    private static HashSet<string>? ReadCpuFlags()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal));
            return line is null ? null : [.. line[(line.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries)];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Where this process loaded library <paramref name="name"/> from (/proc/self/maps); null when it cannot tell.</summary>
    private static string? LoadedPath(string name)
    {
        var suffix = "/" + FileName(name);
        try
        {
            return File.ReadLines("/proc/self/maps")
                .Select(line => line.IndexOf('/') is var at and >= 0 ? line[at..] : "")
                .FirstOrDefault(path => path.EndsWith(suffix, StringComparison.Ordinal)) is { Length: > 0 } path ? path : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>What <c>ggml_commit()</c> of the ggml-base library at <paramref name="path"/> returns (loading it if it is not yet).</summary>
    private static unsafe string CommitOf(string path)
    {
        var handle = NativeLibrary.Load(path);
        var commit = (delegate* unmanaged[Cdecl]<nint>)NativeLibrary.GetExport(handle, "ggml_commit");
        return Marshal.PtrToStringUTF8(commit()) ?? "unknown";
    }
}

/// <summary><c>LlmStack:LlamaCppLibraries</c>, checked at start with the rest of the options (<see cref="LlamaCppLibrary.Problem"/>).</summary>
internal sealed class LlamaCppLibrariesValidator : IValidateOptions<LlmStackOptions>
{
    public ValidateOptionsResult Validate(string? name, LlmStackOptions options) =>
        options.LlamaCppLibraries is { Length: > 0 } folder
        && LlamaCppLibrary.Problem(folder, $"{LlmStackOptions.SectionName}:{nameof(LlmStackOptions.LlamaCppLibraries)}") is { } problem
            ? ValidateOptionsResult.Fail(problem)
            : ValidateOptionsResult.Success;
}
