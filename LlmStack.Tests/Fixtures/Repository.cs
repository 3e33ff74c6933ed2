namespace LlmStack.Tests.Fixtures;

/// <summary>The checkout the tests run from (the folder holding LlmStack.sln).</summary>
public static class Repository
{
    public static string Root { get; } = Find();

    public static string PathOf(string relativePath) => System.IO.Path.Combine(Root, relativePath);

    private static string Find()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(directory.FullName, "LlmStack.sln")))
            {
                return directory.FullName;
            }
        }
        throw new DirectoryNotFoundException($"LlmStack.sln not found above {AppContext.BaseDirectory}.");
    }
}
