namespace LlmStack.AppHost.Hosting;

internal static class ExecutableSearch
{
    /// <summary>The full path of <paramref name="name"/> in a PATH directory (with PATHEXT on Windows), or null.</summary>
    public static string? FindOnPath(string name)
    {
        string[] extensions = OperatingSystem.IsWindows()
            ? [.. (Environment.GetEnvironmentVariable("PATHEXT") ?? ".EXE").Split(';', StringSplitOptions.RemoveEmptyEntries)]
            : [""];
        var directories = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return directories
            .SelectMany(directory => extensions.Select(extension => Path.Combine(directory, name + extension)))
            .FirstOrDefault(File.Exists);
    }
}
