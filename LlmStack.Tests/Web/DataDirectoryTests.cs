using System.Net;
using LlmStack.Tests.Browser;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Web;

/// <summary>
/// One Web per data directory: a second Web on the directory a running one holds stops at start, naming it - where
/// before both ran on one accounts store, each making its own configured password the administrator's, and sign-in
/// worked for whichever started last. Once the first stops, the directory is free again.
/// </summary>
public sealed class DataDirectoryTests : IAsyncLifetime
{
    private readonly ApiApplication _api = InMemoryBackend.Serve(("scripted", InMemoryChatClient.Replying(["Hi"])));
    private readonly string _data = Directory.CreateTempSubdirectory("llmstack-web-shared-").FullName;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    [Fact]
    public async Task A_second_web_on_a_data_directory_in_use_stops_at_start_naming_it()
    {
        var first = new WebUiApplication(_api.BaseAddress, dataDirectory: _data);
        try
        {
            using var http = new HttpClient { BaseAddress = first.BaseAddress };
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz", Cancel)).StatusCode);

            await using var second = new WebUiApplication(_api.BaseAddress, dataDirectory: _data);
            var refused = Assert.ThrowsAny<Exception>(() => second.BaseAddress);

            var message = string.Join(" | ", Chain(refused).Select(e => e.Message));
            Assert.Contains($"LlmStack:DataDirectory '{_data}' is in use by another LlmStack.Web", message, StringComparison.Ordinal);
        }
        finally
        {
            await first.DisposeAsync();
        }

        await using var after = new WebUiApplication(_api.BaseAddress, dataDirectory: _data);
        using var again = new HttpClient { BaseAddress = after.BaseAddress };
        Assert.Equal(HttpStatusCode.OK, (await again.GetAsync("/healthz", Cancel)).StatusCode);
    }

    private static IEnumerable<Exception> Chain(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            yield return e;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _api.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_data, recursive: true);
    }
}
