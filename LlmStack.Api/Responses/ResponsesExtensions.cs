using Microsoft.Extensions.Options;

namespace LlmStack.Api.Responses;

internal static class ResponsesExtensions
{
    /// <summary>
    /// The response store behind <c>/v1/responses</c>: Redis when <c>LlmStack:Responses:Redis</c> is set, else a
    /// bounded in-memory cache. Bad settings fail the start with a message naming the key.
    /// </summary>
    public static IHostApplicationBuilder AddResponses(this IHostApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection(ResponsesOptions.SectionName);
        builder.Services.AddOptionsWithValidateOnStart<ResponsesOptions>().Bind(section);
        builder.Services.AddSingleton<IValidateOptions<ResponsesOptions>, ResponsesOptionsValidator>();
        var options = section.Get<ResponsesOptions>() ?? new ResponsesOptions();
        if (!string.IsNullOrWhiteSpace(options.Redis))
        {
            builder.Services.AddStackExchangeRedisCache(redis =>
            {
                redis.Configuration = options.Redis;
                redis.InstanceName = "llmstack:";
            });
        }
        else
        {
            // MemoryDistributedCache counts each entry's size in bytes against this limit.
            builder.Services.AddDistributedMemoryCache(memory => memory.SizeLimit = options.MaxStoredBytes > 0 ? options.MaxStoredBytes : null);
        }
        builder.Services.AddSingleton<ResponseStore>();
        return builder;
    }
}
