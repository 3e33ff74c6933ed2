extern alias bench;

using System.Security.Cryptography;
using LlmStack.Api.Backends.Embedded.Hub;
using LlmStack.Tests.Fixtures;

namespace LlmStack.Tests.Backends.Embedded.Hub;

/// <summary>
/// The downloader against a local hub with the real hub's layout, redirects, headers and ranges: what it fetches,
/// what it refuses, how it survives cuts, restarts and corruption, and what it says.
/// </summary>
public sealed class ModelDownloaderTests(GeneratedModels models)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task File_is_downloaded_through_the_redirect_verified_and_cached()
    {
        await using var fixture = await HubFixture.StartAsync(models);
        var source = HubFixture.Source($"hf://{HubFixture.Repository}/{HubFixture.ScriptedFile}");

        var progress = HubFixture.Progress(source.ToString());
        var path = await fixture.Downloader().EnsureAsync(source, progress, Ct).WaitAsync(Timeout, Ct);

        Assert.Equal(File.ReadAllBytes(models.Scripted), File.ReadAllBytes(path));
        Assert.StartsWith(fixture.CacheFolder, path, StringComparison.Ordinal);
        Assert.Equal(Sha256(models.Scripted), Path.GetFileName(Path.GetDirectoryName(path)));
        Assert.Equal(HubFixture.ScriptedFile, Path.GetFileName(path));
        Assert.False(File.Exists(path + ".partial"));
        Assert.Equal(100, progress.Percent);
        Assert.Equal(1, fixture.Hub.Downloads);
        Assert.Contains(fixture.Logs.Entries, e => e.Message.Contains($"downloaded and verified {HubFixture.ScriptedFile}", StringComparison.Ordinal));

        // A second start finds it in the cache: nothing is fetched again.
        var again = await fixture.Downloader().EnsureAsync(source, HubFixture.Progress(source.ToString()), Ct).WaitAsync(Timeout, Ct);
        Assert.Equal(path, again);
        Assert.Equal(1, fixture.Hub.Downloads);
    }

    [Theory]
    [InlineData(":Q8_0", "scripted-Q8_0.gguf")]
    [InlineData(":q4_k_m", "scripted-Q4_K_M.gguf")]
    [InlineData(":F16", "scripted-F16.gguf")]
    [InlineData(":Q5_K_M", "sub/scripted-Q5_K_M.gguf")]
    [InlineData("", "scripted-Q4_K_M.gguf")]
    public async Task File_is_chosen_by_quantization_name_as_llama_server_does(string quantization, string expected)
    {
        await using var fixture = await HubFixture.StartAsync(models);
        var source = HubFixture.Source($"hf://{HubFixture.Repository}{quantization}");

        var path = await fixture.Downloader().EnsureAsync(source, HubFixture.Progress(source.ToString()), Ct).WaitAsync(Timeout, Ct);

        Assert.Equal(Path.GetFileName(expected), Path.GetFileName(path));
    }

    [Fact]
    public void Quantization_choice_skips_projectors_and_later_parts_and_falls_back_like_llama_server()
    {
        string[] files = ["README.md", "mmproj-model-Q8_0.gguf", "model-Q8_0.gguf", "big-Q2_K-00002-of-00003.gguf", "big-Q2_K-00001-of-00003.gguf", "model-IQ4_XS.gguf"];

        Assert.Equal("model-Q8_0.gguf", GgufFileChoice.Choose(files, "Q8_0"));
        Assert.Equal("model-Q8_0.gguf", GgufFileChoice.Choose(files, null)); // no Q4_K_M: Q8_0
        Assert.Equal("big-Q2_K-00001-of-00003.gguf", GgufFileChoice.Choose(files, "q2_k"));
        Assert.Equal("model-IQ4_XS.gguf", GgufFileChoice.Choose(files, "IQ4_XS"));
        Assert.Null(GgufFileChoice.Choose(files, "Q6_K"));
        Assert.Equal("model-IQ4_XS.gguf", GgufFileChoice.Choose(["model-IQ4_XS.gguf"], null)); // the first model file
    }

    [Fact]
    public async Task Quantization_the_repository_lacks_is_refused_listing_what_it_has()
    {
        await using var fixture = await HubFixture.StartAsync(models);
        var source = HubFixture.Source($"hf://{HubFixture.Repository}:Q6_K");

        var error = await Assert.ThrowsAsync<HubException>(() => fixture.Downloader().EnsureAsync(source, HubFixture.Progress(source.ToString()), Ct).WaitAsync(Timeout, Ct));

        Assert.False(error.Transient);
        Assert.Contains($"{HubFixture.Repository} at 'main' has no GGUF file of quantization Q6_K", error.Message, StringComparison.Ordinal);
        Assert.Contains("scripted-Q8_0.gguf", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("mmproj", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Download_cut_in_the_middle_resumes_with_a_range_and_fetches_little_twice()
    {
        await using var fixture = await HubFixture.StartAsync(models);
        var size = new FileInfo(HubFixture.LargeModelPath).Length;
        fixture.Hub.CutOnceAt(size / 2);
        // A network's pace, not loopback's: at full loopback speed the kernel's socket buffers (MBs) are lost at the cut.
        fixture.Hub.BytesPerSecond = 50_000_000;
        var source = HubFixture.Source($"hf://{HubFixture.Repository}/{HubFixture.LargeFile}");
        var progress = HubFixture.Progress(source.ToString());

        var path = await fixture.Downloader().EnsureAsync(source, progress, Ct).WaitAsync(Timeout, Ct);

        Assert.Equal(Sha256(HubFixture.LargeModelPath), Sha256(path));
        Assert.Equal(2, fixture.Hub.Downloads);
        Assert.Equal("", fixture.Hub.Ranges[0]);
        Assert.StartsWith("bytes=", fixture.Hub.Ranges[1], StringComparison.Ordinal);
        // What the downloader received twice. (What the hub wrote twice also counts what was in the sockets' buffers when
        // the connection was cut - megabytes when a loaded machine keeps the reader from keeping up - lost to any client.)
        var twice = progress.FetchedBytes - size;
        Assert.True(twice < size * 0.05, $"{twice:N0} of {size:N0} bytes were fetched twice.");
        Assert.Contains(fixture.Logs.Entries, e => e.Message.Contains("retrying in", StringComparison.Ordinal) && e.Message.Contains("attempt 2 of", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Download_stopped_by_a_restart_resumes_where_it_stopped()
    {
        await using var fixture = await HubFixture.StartAsync(models);
        var size = new FileInfo(HubFixture.LargeModelPath).Length;
        var source = HubFixture.Source($"hf://{HubFixture.Repository}/{HubFixture.LargeFile}");
        fixture.Hub.HoldAt = size * 6 / 10;

        // The first process gets 60% and is stopped there.
        using (var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct))
        {
            var progress = HubFixture.Progress(source.ToString());
            var first = fixture.Downloader().EnsureAsync(source, progress, stop.Token);
            await fixture.Hub.Holding.WaitAsync(Timeout, Ct);
            while (progress.DoneBytes < size * 6 / 10)
            {
                await Task.Delay(20, Ct);
            }
            Assert.Equal(60, progress.Percent);
            await stop.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first.WaitAsync(Timeout, Ct));
        }
        // New downloads are not held; the first process's connection, abandoned at the hold, is never woken to send more
        // (released, the hub would write the rest into a connection the client's handler may still be draining, and count it).
        fixture.Hub.HoldAt = null;

        var path = await fixture.Downloader().EnsureAsync(source, HubFixture.Progress(source.ToString()), Ct).WaitAsync(Timeout, Ct);

        Assert.Equal(Sha256(HubFixture.LargeModelPath), Sha256(path));
        Assert.Equal($"bytes={size * 6 / 10}-", fixture.Hub.Ranges[^1]);
        var twice = fixture.Hub.BytesServed - size;
        Assert.True(twice < size * 0.05, $"{twice:N0} of {size:N0} bytes were fetched twice.");
        Assert.Contains(fixture.Logs.Entries, e => e.Message.Contains("resuming the download", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Corrupted_download_is_refused_and_fetched_again()
    {
        await using var fixture = await HubFixture.StartAsync(models);
        fixture.Hub.CorruptNextDownload();
        var source = HubFixture.Source($"hf://{HubFixture.Repository}/{HubFixture.LargeFile}");

        var path = await fixture.Downloader().EnsureAsync(source, HubFixture.Progress(source.ToString()), Ct).WaitAsync(Timeout, Ct);

        Assert.Equal(Sha256(HubFixture.LargeModelPath), Sha256(path));
        Assert.Equal(2, fixture.Hub.Downloads);
        Assert.Equal(["", ""], fixture.Hub.Ranges);
        Assert.Contains(fixture.Logs.Entries, e => e.Message.Contains("not the " + Sha256(HubFixture.LargeModelPath) + " the hub publishes", StringComparison.Ordinal)
            && e.Message.Contains("refused and fetched again", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Server_that_ignores_ranges_is_downloaded_from_the_start_again()
    {
        await using var fixture = await HubFixture.StartAsync(models);
        var size = new FileInfo(HubFixture.LargeModelPath).Length;
        fixture.Hub.CutOnceAt(size / 3);
        fixture.Hub.IgnoreRange = true;
        var source = HubFixture.Source($"hf://{HubFixture.Repository}/{HubFixture.LargeFile}");

        var path = await fixture.Downloader().EnsureAsync(source, HubFixture.Progress(source.ToString()), Ct).WaitAsync(Timeout, Ct);

        Assert.Equal(Sha256(HubFixture.LargeModelPath), Sha256(path));
        Assert.Contains(fixture.Logs.Entries, e => e.Message.Contains("does not resume downloads", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Unknown_repository_is_a_401_that_names_it_and_says_what_to_do()
    {
        await using var fixture = await HubFixture.StartAsync(models);
        var source = HubFixture.Source("hf://llmstack/No-Such-GGUF:Q8_0");

        var error = await Assert.ThrowsAsync<HubException>(() => fixture.Downloader().EnsureAsync(source, HubFixture.Progress(source.ToString()), Ct).WaitAsync(Timeout, Ct));

        Assert.False(error.Transient);
        Assert.Contains("refused to list the files of llmstack/No-Such-GGUF: 401 (Repository not found)", error.Message, StringComparison.Ordinal);
        Assert.Contains("does not exist, or it is private or gated and no HF_TOKEN is set", error.Message, StringComparison.Ordinal);
        Assert.Contains("set HF_TOKEN", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_file_is_a_404_that_names_the_repository()
    {
        await using var fixture = await HubFixture.StartAsync(models);
        var source = HubFixture.Source($"hf://{HubFixture.Repository}/nothing-Q4_0.gguf");

        var error = await Assert.ThrowsAsync<HubException>(() => fixture.Downloader().EnsureAsync(source, HubFixture.Progress(source.ToString()), Ct).WaitAsync(Timeout, Ct));

        Assert.Contains($"refused to find nothing-Q4_0.gguf in {HubFixture.Repository}: 404 (Entry not found)", error.Message, StringComparison.Ordinal);
        Assert.Contains($"The file is not in {HubFixture.Repository} at 'main'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Private_repository_is_read_with_HF_TOKEN_which_never_reaches_the_storage_host()
    {
        await using var fixture = await HubFixture.StartAsync(models);
        var source = HubFixture.Source($"hf://llmstack/Private-GGUF/{HubFixture.ScriptedFile}");

        var refused = await Assert.ThrowsAsync<HubException>(() => fixture.Downloader().EnsureAsync(source, HubFixture.Progress(source.ToString()), Ct).WaitAsync(Timeout, Ct));
        var wrong = await Assert.ThrowsAsync<HubException>(() => fixture.Downloader(token: "hf_wrong").EnsureAsync(source, HubFixture.Progress(source.ToString()), Ct).WaitAsync(Timeout, Ct));
        var path = await fixture.Downloader(token: fixture.Hub.Token).EnsureAsync(source, HubFixture.Progress(source.ToString()), Ct).WaitAsync(Timeout, Ct);

        Assert.Contains("401", refused.Message, StringComparison.Ordinal);
        Assert.Contains("the HF_TOKEN that is set was not accepted", wrong.Message, StringComparison.Ordinal);
        Assert.Equal(File.ReadAllBytes(models.Scripted), File.ReadAllBytes(path));
        Assert.Contains($"Bearer {fixture.Hub.Token}", fixture.Hub.HubAuthorizations);
        Assert.All(fixture.Hub.StorageAuthorizations, Assert.Null);
    }

    [Fact]
    public async Task Gated_repository_is_a_403_that_says_to_accept_its_conditions()
    {
        await using var fixture = await HubFixture.StartAsync(models);
        var source = HubFixture.Source($"hf://llmstack/Gated-GGUF/{HubFixture.ScriptedFile}");

        var error = await Assert.ThrowsAsync<HubException>(() => fixture.Downloader(token: "hf_other").EnsureAsync(source, HubFixture.Progress(source.ToString()), Ct).WaitAsync(Timeout, Ct));

        Assert.Contains("refused to find scripted-Q8_0.gguf in llmstack/Gated-GGUF: 403", error.Message, StringComparison.Ordinal);
        Assert.Contains($"accept its conditions at {fixture.Hub.Endpoint}llmstack/Gated-GGUF", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task File_larger_than_the_free_disk_space_is_refused_naming_both_sizes()
    {
        await using var fixture = await HubFixture.StartAsync(models);
        fixture.Hub.AddFile("llmstack/Huge-GGUF", "huge-Q8_0.gguf", models.Scripted, advertisedSize: 1_000_000_000_000_000);
        var source = HubFixture.Source("hf://llmstack/Huge-GGUF:Q8_0");

        var error = await Assert.ThrowsAsync<HubException>(() => fixture.Downloader().EnsureAsync(source, HubFixture.Progress(source.ToString()), Ct).WaitAsync(Timeout, Ct));

        Assert.Contains("huge-Q8_0.gguf of llmstack/Huge-GGUF needs 1000000.00 GB of free disk space in", error.Message, StringComparison.Ordinal);
        Assert.Contains("GB is free", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, fixture.Hub.Downloads);
    }

    [Fact]
    public async Task Unreachable_hub_is_retried_with_backoff_and_reported_then_given_up()
    {
        await using var fixture = await HubFixture.StartAsync(models);
        var endpoint = fixture.Hub.Endpoint;
        await fixture.Hub.DisposeAsync();
        var source = HubFixture.Source($"hf://{HubFixture.Repository}:Q8_0");
        var progress = HubFixture.Progress(source.ToString());

        var error = await Assert.ThrowsAsync<HubException>(() => fixture.Downloader().EnsureAsync(source, progress, Ct).WaitAsync(Timeout, Ct));

        Assert.False(error.Transient);
        Assert.Contains($"failed {ModelDownloader.MaxAttempts} times in a row", error.Message, StringComparison.Ordinal);
        Assert.Contains($"could not be reached to list the files of {HubFixture.Repository}", error.Message, StringComparison.Ordinal);
        Assert.Equal(ModelDownloader.MaxAttempts - 1, fixture.Logs.Entries.Count(e => e.Message.Contains("retrying in", StringComparison.Ordinal)));
        Assert.Contains(endpoint.Authority, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cached_file_serves_a_restart_while_the_hub_is_unreachable()
    {
        await using var fixture = await HubFixture.StartAsync(models);
        var source = HubFixture.Source($"hf://{HubFixture.Repository}:Q8_0");
        var path = await fixture.Downloader().EnsureAsync(source, HubFixture.Progress(source.ToString()), Ct).WaitAsync(Timeout, Ct);
        await fixture.Hub.DisposeAsync();

        var offline = await fixture.Downloader().EnsureAsync(source, HubFixture.Progress(source.ToString()), Ct).WaitAsync(Timeout, Ct);

        Assert.Equal(path, offline);
        Assert.Contains(fixture.Logs.Entries, e => e.Message.Contains("the hub cannot be asked now", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Two_downloaders_at_once_fetch_the_file_once()
    {
        await using var fixture = await HubFixture.StartAsync(models);
        var size = new FileInfo(HubFixture.LargeModelPath).Length;
        fixture.Hub.HoldAt = size / 2;
        var source = HubFixture.Source($"hf://{HubFixture.Repository}/{HubFixture.LargeFile}");
        var waiting = HubFixture.Progress(source.ToString());

        var first = fixture.Downloader().EnsureAsync(source, HubFixture.Progress(source.ToString()), Ct);
        await fixture.Hub.Holding.WaitAsync(Timeout, Ct);
        var second = fixture.Downloader().EnsureAsync(source, waiting, Ct);
        while (waiting.Phase != ModelFetchPhase.WaitingForAnotherProcess || waiting.Percent is not (> 0))
        {
            await Task.Delay(20, Ct).WaitAsync(Timeout, Ct);
        }
        Assert.Matches(@"^another process is downloading large-F32\.gguf into the cache \([0-9]+% of [0-9.]+ MB\); waiting for it", waiting.Describe());
        fixture.Hub.Release();

        var paths = await Task.WhenAll(first, second).WaitAsync(Timeout, Ct);

        Assert.Equal(paths[0], paths[1]);
        Assert.Equal(1, fixture.Hub.Downloads);
        Assert.Equal(size, fixture.Hub.BytesServed);
    }

    [Theory]
    [InlineData("hf://Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf", "Qwen", "Qwen2.5-0.5B-Instruct-GGUF", "qwen2.5-0.5b-instruct-q4_k_m.gguf", null, "main")]
    [InlineData("hf://Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M", "Qwen", "Qwen2.5-0.5B-Instruct-GGUF", null, "Q4_K_M", "main")]
    [InlineData("hf://bartowski/Llama-3.2-1B-Instruct-GGUF:Q8_0@v1.0", "bartowski", "Llama-3.2-1B-Instruct-GGUF", null, "Q8_0", "v1.0")]
    [InlineData("hf://owner/repo/sub/dir/model.gguf@0123abc", "owner", "repo", "sub/dir/model.gguf", null, "0123abc")]
    [InlineData("hf://owner/repo", "owner", "repo", null, null, "main")]
    public void Source_forms_parse(string text, string owner, string name, string? file, string? quantization, string revision)
    {
        Assert.True(HubModelSource.TryParse(text, out var source, out var problem), problem);
        Assert.Equal(new HubModelSource(owner, name, file, quantization, revision), source);
        Assert.Equal(text, source.ToString());
    }

    [Theory]
    [InlineData("hf://owner", "does not name a repository")]
    [InlineData("hf://owner/../etc/passwd.gguf", "does not name a repository")]
    [InlineData("hf://owner/repo/../../x.gguf", "does not name a .gguf file")]
    [InlineData("hf://owner/repo/model.bin", "does not name a .gguf file")]
    [InlineData("hf://owner/repo:Q4 K", "invalid quantization")]
    [InlineData("hf://owner/repo/model.gguf:Q4_K_M", "names both a file and a quantization")]
    [InlineData("hf://owner/repo@..", "invalid revision")]
    [InlineData("https://huggingface.co/owner/repo", "is not a hub source")]
    public void Malformed_sources_are_refused_saying_why(string text, string problemPart)
    {
        Assert.False(HubModelSource.TryParse(text, out _, out var problem));
        Assert.Contains(problemPart, problem, StringComparison.Ordinal);
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
