using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using LlmStack.Tests.Containers;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.EndToEnd;

/// <summary>
/// The README's first command as a developer meets it: the AppHost started as a process of its own, its console read
/// line by line, and what it says followed to the letter - the command it names to get the API key (run against this
/// run's own user secrets), then the API at the URL it names, with that key; the same for the chat page's password.
/// </summary>
public sealed partial class AppHostConsoleTests
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_console_says_where_the_api_is_and_how_to_get_its_key_and_following_it_works()
    {
        // The generated key and password land in user secrets: this run's own (APPDATA), never the machine's.
        var secrets = Directory.CreateTempSubdirectory("llmstack-user-secrets-").FullName;
        var environment = new Dictionary<string, string>
        {
            ["APPDATA"] = secrets,
            ["DOTNET_NOLOGO"] = "1",
        };
        using var webData = new AppHostWebData();
        await using var apphost = AppHostProcess.Start(environment, webData);
        try
        {
            var apiLine = await apphost.WaitForLineAsync(line => line.StartsWith("API: ", StringComparison.Ordinal), StartTimeout);
            var chatLine = await apphost.WaitForLineAsync(line => line.StartsWith("Chat: ", StringComparison.Ordinal), StartTimeout);

            var api = ApiLine().Match(apiLine);
            Assert.True(api.Success, apiLine);
            var key = await ReadSecretAsync(api.Groups["command"].Value, api.Groups["name"].Value, environment);
            using var http = new HttpClient { BaseAddress = new Uri(api.Groups["url"].Value.TrimEnd('/') + "/v1/"), Timeout = TimeSpan.FromSeconds(30) };
            using var anonymous = await http.GetAsync("models", Cancel);
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            using var models = await http.GetAsync("models", Cancel);
            Assert.Equal(HttpStatusCode.OK, models.StatusCode);
            Assert.Contains("llmstack-demo", await models.Content.ReadAsStringAsync(Cancel), StringComparison.Ordinal);

            var chat = ChatLine().Match(chatLine);
            Assert.True(chat.Success, chatLine);
            var password = await ReadSecretAsync(chat.Groups["command"].Value, chat.Groups["name"].Value, environment);
            await SignInAsync(new Uri(chat.Groups["url"].Value.TrimEnd('/') + "/"), chat.Groups["user"].Value, password);
            // Neither secret is on the console itself.
            Assert.DoesNotContain(key, apphost.Output, StringComparison.Ordinal);
            Assert.DoesNotContain(password, apphost.Output, StringComparison.Ordinal);
        }
        catch (Exception e) when (e is not TimeoutException)
        {
            throw new InvalidOperationException($"{e.Message}{Environment.NewLine}AppHost console:{Environment.NewLine}{apphost.Output}", e);
        }
        finally
        {
            Directory.Delete(secrets, recursive: true);
        }
    }

    /// <summary>Runs the command the console names (as a person pastes it) and reads one parameter from what it prints.</summary>
    private static async Task<string> ReadSecretAsync(string command, string parameter, Dictionary<string, string> environment)
    {
        var words = command.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var printed = await DockerEngine.CheckedAsync(words[0], words[1..], TimeSpan.FromMinutes(1), Repository.Root, environment);
        var line = printed.Split('\n', StringSplitOptions.TrimEntries).FirstOrDefault(l => l.StartsWith($"Parameters:{parameter} = ", StringComparison.Ordinal));
        Assert.True(line is not null, $"`{command}` printed no Parameters:{parameter}:{Environment.NewLine}{printed}");
        return line[$"Parameters:{parameter} = ".Length..];
    }

    /// <summary>The sign-in form posted as a browser posts it (antiforgery token and cookie included); a session comes back.</summary>
    private static async Task SignInAsync(Uri web, string user, string password)
    {
        using var handler = new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false };
        using var http = new HttpClient(handler) { BaseAddress = web, Timeout = TimeSpan.FromSeconds(30) };
        var form = await http.GetStringAsync("account/sign-in", Cancel);
        var token = AntiforgeryToken().Match(form).Groups[1].Value;
        using var posted = await http.PostAsync("account/sign-in", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["_handler"] = "sign-in",
            ["__RequestVerificationToken"] = token,
            ["Input.UserName"] = user,
            ["Input.Password"] = password,
        }), Cancel);
        Assert.Equal(HttpStatusCode.Redirect, posted.StatusCode);
        using var page = await http.GetAsync("/", Cancel);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
    }

    [GeneratedRegex(@"^API: (?<url>\S+)/v1 .*`(?<command>dotnet user-secrets list [^`]+)` \(Parameters:(?<name>[^)]+)\)")]
    private static partial Regex ApiLine();

    [GeneratedRegex(@"^Chat: (?<url>\S+) - sign in as '(?<user>[^']+)' .*`(?<command>dotnet user-secrets list [^`]+)` \(Parameters:(?<name>[^)]+)\)")]
    private static partial Regex ChatLine();

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryToken();

    /// <summary>
    /// The built AppHost run as <c>dotnet run --project LlmStack.AppHost</c> runs it (its launch profile's settings), but
    /// with every port chosen free - the dashboard's and, through Aspire's port randomization, the services' - and a Web
    /// data directory of its own, so that it never meets another run; stopped with SIGTERM, as a developer's Ctrl+C.
    /// </summary>
    private sealed class AppHostProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly List<string> _lines = [];
        private readonly SemaphoreSlim _newLine = new(0);

        private AppHostProcess(Process process)
        {
            _process = process;
            process.OutputDataReceived += (_, e) => Add(e.Data);
            process.ErrorDataReceived += (_, e) => Add(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public string Output
        {
            get
            {
                lock (_lines)
                {
                    return string.Join(Environment.NewLine, _lines);
                }
            }
        }

        public static AppHostProcess Start(Dictionary<string, string> environment, AppHostWebData webData)
        {
            // The AppHost's own build output, of the configuration these tests were built in.
            var configuration = Path.GetRelativePath(Repository.PathOf("LlmStack.Tests"), AppContext.BaseDirectory);
            var start = new ProcessStartInfo("dotnet")
            {
                WorkingDirectory = Repository.Root,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            start.ArgumentList.Add(Repository.PathOf(Path.Combine("LlmStack.AppHost", configuration, "LlmStack.AppHost.dll")));
            foreach (var argument in new[] { "--Ollama:Mode=none", "--DcpPublisher:RandomizePorts=true", webData.Argument })
            {
                start.ArgumentList.Add(argument);
            }
            // What the http launch profile sets, on free ports.
            start.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
            start.Environment["DOTNET_ENVIRONMENT"] = "Development";
            start.Environment["ASPIRE_ALLOW_UNSECURED_TRANSPORT"] = "true";
            start.Environment["ASPNETCORE_URLS"] = FreeLoopbackUrl();
            start.Environment["ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL"] = FreeLoopbackUrl();
            start.Environment["ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL"] = FreeLoopbackUrl();
            foreach (var (name, value) in environment)
            {
                start.Environment[name] = value;
            }
            return new AppHostProcess(Process.Start(start) ?? throw new InvalidOperationException("The AppHost did not start."));
        }

        public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout)
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
            deadline.CancelAfter(timeout);
            while (true)
            {
                lock (_lines)
                {
                    if (_lines.FirstOrDefault(match) is { } line)
                    {
                        return line;
                    }
                }
                if (_process.HasExited)
                {
                    throw new InvalidOperationException($"The AppHost exited ({_process.ExitCode}):{Environment.NewLine}{Output}");
                }
                try
                {
                    await _newLine.WaitAsync(TimeSpan.FromSeconds(1), deadline.Token);
                }
                catch (OperationCanceledException)
                {
                    throw new TimeoutException($"The AppHost printed no such line within {timeout.TotalSeconds:0} s:{Environment.NewLine}{Output}");
                }
            }
        }

        private void Add(string? line)
        {
            if (line is null)
            {
                return;
            }
            lock (_lines)
            {
                _lines.Add(line);
            }
            _newLine.Release();
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                // SIGTERM: the AppHost stops its services (a background dotnet ignores SIGINT).
                _ = Kill(_process.Id, 15);
                using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(60));
                try
                {
                    await _process.WaitForExitAsync(grace.Token);
                }
                catch (OperationCanceledException)
                {
                    _process.Kill(entireProcessTree: true);
                }
            }
            _process.Dispose();
            _newLine.Dispose();
        }

        [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
        private static extern int Kill(int pid, int signal);

        private static string FreeLoopbackUrl()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";
        }
    }
}
