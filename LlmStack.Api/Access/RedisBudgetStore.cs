using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;

namespace LlmStack.Api.Access;

/// <summary>
/// The budgets' buckets in Redis (<c>LlmStack:Auth:Redis</c>), shared by every replica of the API: the store's
/// primitive (<see cref="IBudgetStore"/>) is one Lua script, run atomically by Redis on its own clock, so two replicas
/// never spend the same units and their clocks never matter. A bucket is a hash that expires when it would be full
/// again (a missing bucket is a full one). When Redis does not answer, every take fails
/// (<see cref="BudgetStoreUnavailableException"/>): keys with a budget are refused, never let through unmetered; the
/// <c>budgets</c> readiness check says why.
/// </summary>
internal sealed partial class RedisBudgetStore : IBudgetStore, IHealthCheck, IAsyncDisposable
{
    private const string KeyPrefix = "llmstack:budget:";

    // KEYS: the buckets; ARGV: per bucket its per-minute size, need and cost. Returns the taken flag, then each level.
    private const string TakeScript = """
        local time = redis.call('TIME')
        local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
        local levels = {}
        local taken = 1
        for i, key in ipairs(KEYS) do
          local size = tonumber(ARGV[i * 3 - 2])
          local state = redis.call('HMGET', key, 'level', 'at')
          local level = tonumber(state[1]) or size
          local at = tonumber(state[2]) or now
          level = math.min(size, level + math.max(0, now - at) * size / 60)
          if level < tonumber(ARGV[i * 3 - 1]) then taken = 0 end
          levels[i] = level
        end
        local reply = { taken }
        for i, key in ipairs(KEYS) do
          local size = tonumber(ARGV[i * 3 - 2])
          if taken == 1 then levels[i] = math.min(size, levels[i] - tonumber(ARGV[i * 3])) end
          redis.call('HSET', key, 'level', tostring(levels[i]), 'at', tostring(now))
          redis.call('PEXPIRE', key, math.ceil((size - levels[i]) * 60000 / size) + 1000)
          reply[i + 1] = tostring(levels[i])
        end
        return reply
        """;

    private readonly string _configuration;
    private readonly string _endpoint;
    private readonly ILogger<RedisBudgetStore> _logger;
    private readonly SemaphoreSlim _connecting = new(1, 1);
    private ConnectionMultiplexer? _redis;

    public RedisBudgetStore(string configuration, ILogger<RedisBudgetStore> logger)
    {
        var options = ConfigurationOptions.Parse(configuration);
        _endpoint = string.Join(", ", options.EndPoints.Select(e => e.ToString()));
        _configuration = configuration;
        _logger = logger;
    }

    public async ValueTask<BucketLevels> TakeAsync(IReadOnlyList<BucketTake> takes, CancellationToken cancellationToken)
    {
        var keys = takes.Select(t => (RedisKey)(KeyPrefix + t.Bucket)).ToArray();
        var values = takes.SelectMany(t => new RedisValue[]
        {
            t.PerMinute, t.Need.ToString("R", CultureInfo.InvariantCulture), t.Cost.ToString("R", CultureInfo.InvariantCulture),
        }).ToArray();
        RedisResult[] reply;
        try
        {
            var redis = await ConnectAsync(cancellationToken);
            reply = (RedisResult[])(await redis.GetDatabase().ScriptEvaluateAsync(TakeScript, keys, values))!;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or BudgetStoreUnavailableException)
        {
            var unavailable = ex as BudgetStoreUnavailableException ?? Unavailable(ex);
            LogUnavailable(_logger, unavailable.Message);
            throw unavailable;
        }
        return new BucketLevels(
            (long)reply[0] == 1,
            [.. reply.Skip(1).Select(level => double.Parse((string)level!, CultureInfo.InvariantCulture))]);
    }

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var redis = await ConnectAsync(cancellationToken);
            var latency = await redis.GetDatabase().PingAsync();
            return HealthCheckResult.Healthy($"Redis at {_endpoint} answers ({latency.TotalMilliseconds:0.#} ms)");
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or BudgetStoreUnavailableException)
        {
            var unavailable = ex as BudgetStoreUnavailableException ?? Unavailable(ex);
            return HealthCheckResult.Unhealthy(unavailable.Message + " Requests of keys with a budget are refused until it does.", unavailable);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
        _connecting.Dispose();
    }

    // One connection for the process; it reconnects by itself once made. A first connection that fails is tried
    // again by the next take, so a Redis that comes back is used again.
    private async Task<ConnectionMultiplexer> ConnectAsync(CancellationToken cancellationToken)
    {
        if (_redis is { } connected)
        {
            return connected;
        }
        await _connecting.WaitAsync(cancellationToken);
        try
        {
            if (_redis is null)
            {
                var options = ConfigurationOptions.Parse(_configuration);
                // Fail closed fast: a budget waits at most this long for an answer.
                options.ConnectTimeout = Math.Min(options.ConnectTimeout, 2000);
                options.AsyncTimeout = Math.Min(options.AsyncTimeout, 2000);
                options.AbortOnConnectFail = false;
                var redis = await ConnectionMultiplexer.ConnectAsync(options);
                if (!redis.IsConnected)
                {
                    await redis.DisposeAsync();
                    throw new BudgetStoreUnavailableException($"Redis at {_endpoint} (LlmStack:Auth:Redis) does not answer.");
                }
                _redis = redis;
            }
            return _redis;
        }
        finally
        {
            _connecting.Release();
        }
    }

    private BudgetStoreUnavailableException Unavailable(Exception ex) =>
        new($"Redis at {_endpoint} (LlmStack:Auth:Redis) does not answer: {ex.Message}", ex);

    [LoggerMessage(EventId = 30, Level = LogLevel.Warning, Message = "Budgets cannot be checked, requests of keys with a budget are refused: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string reason);
}
