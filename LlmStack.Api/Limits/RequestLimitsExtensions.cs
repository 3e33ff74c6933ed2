using System.Globalization;
using LlmStack.Api.Backends;
using LlmStack.Api.Configuration;
using LlmStack.Api.Errors;
using LlmStack.Api.Models;
using LlmStack.Api.Pipeline;
using LlmStack.Api.Telemetry;
using Microsoft.Extensions.Options;

namespace LlmStack.Api.Limits;

internal static class RequestLimitsExtensions
{
    /// <summary>
    /// The total request time and the graceful drain at shutdown. (Per-model admission is part of the chat
    /// pipeline, registered with the model catalog; body size and max_tokens are checked where requests are read.)
    /// </summary>
    public static IHostApplicationBuilder AddRequestLimits(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ServerDrain>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ServerDrain>());
        // The host gives the drain its time, plus a moment for the last error events to go out.
        // Read from configuration as it stands: the host reads its options when it is built, before options
        // validation can report a bad value (which then stops the start with its message).
        var drainTimeout = TimeSpan.TryParse(builder.Configuration[$"{LlmStackOptions.SectionName}:{nameof(LlmStackOptions.DrainTimeout)}"],
            CultureInfo.InvariantCulture, out var configured) && configured >= TimeSpan.Zero ? configured : new LlmStackOptions().DrainTimeout;
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = ServerDrain.ShutdownTimeout(drainTimeout));
        return builder;
    }

    /// <summary>
    /// Gives every request its <see cref="RequestCutoff"/> (as <see cref="HttpContext.RequestAborted"/>), and
    /// refuses new requests once the server drains.
    /// </summary>
    public static WebApplication UseRequestLimits(this WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            // Resolved per request (singletons, so cheaply): options read while the pipeline is built would fail
            // before the host starts, where a bad value cannot stop the start with its message.
            var drain = context.RequestServices.GetRequiredService<ServerDrain>();
            var maxDuration = context.RequestServices.GetRequiredService<IOptions<LlmStackOptions>>().Value.MaxRequestDuration;
            if (drain.IsDraining)
            {
                context.RequestServices.GetRequiredService<LlmStackMetrics>().Rejected(RejectionReason.Draining, model: null);
                // Tells a keep-alive client to take its next request elsewhere.
                context.Response.Headers.Connection = "close";
                await OpenAIErrors.WriteAsync(context.Response, RequestCutoff.ShuttingDown());
                return;
            }
            var clientAborted = context.RequestAborted;
            using var cutoff = new RequestCutoff(clientAborted, drain.DrainEnded, maxDuration);
            context.Features.Set(cutoff);
            context.RequestAborted = cutoff.Token;
            try
            {
                await next(context);
            }
            catch (OperationCanceledException) when (cutoff.Error is { } error)
            {
                // Our own cutoff, not the client leaving: the exception handler must answer it, not log a 499.
                throw error;
            }
            finally
            {
                context.RequestAborted = clientAborted;
            }
        });
        return app;
    }
}
