using LlmStack.Api.Contracts;
using LlmStack.Api.Errors;
using LlmStack.Api.Limits;
using LlmStack.Api.Pipeline;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Features;

namespace LlmStack.Api.Endpoints;

/// <summary>
/// Every error leaves the API in OpenAI's envelope, whatever raised it: validation, a backend, Kestrel's
/// body limit, an unknown route, or a bug (a 500 that says "internal error" and nothing more; the details go
/// to the log only).
/// </summary>
internal static class OpenAIErrors
{
    /// <summary>The envelope's writer for the layers below the endpoints (<see cref="IApiErrorWriter"/>).</summary>
    public static IHostApplicationBuilder AddOpenAIErrors(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<IApiErrorWriter, Writer>();
        return builder;
    }

    /// <summary>Registers the error envelope for unhandled exceptions and for empty 4xx/5xx responses.</summary>
    public static WebApplication UseOpenAIErrors(this WebApplication app)
    {
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            ExceptionHandler = WriteExceptionAsync,
            // Errors the client caused are answers, not incidents: only unexpected exceptions are logged as errors.
            // Neither is a request the server refused or cut off by its own limits (overload, drain, time limit):
            // under a burst, a stack trace per refusal would cost more than the refusals.
            SuppressDiagnosticsCallback = context =>
                RequestCutoff.Of(context.HttpContext)?.Error is not null
                || ToApiError(context.Exception) is not { StatusCode: >= 500 } and not { Code: ApiErrorException.ModelOverloadedCode or RequestCutoff.ShuttingDownCode },
        });
        // Unknown routes and wrong methods get the envelope too, not an empty body.
        app.UseStatusCodePages(context => WriteAsync(context.HttpContext.Response, new ApiErrorException(
            context.HttpContext.Response.StatusCode,
            context.HttpContext.Response.StatusCode == StatusCodes.Status404NotFound ? "not_found_error" : "invalid_request_error",
            $"{context.HttpContext.Request.Method} {context.HttpContext.Request.Path} is not served here ({context.HttpContext.Response.StatusCode}).",
            code: context.HttpContext.Response.StatusCode == StatusCodes.Status404NotFound ? "unknown_url" : "method_not_allowed")));
        return app;
    }

    /// <summary>The error the client sees for <paramref name="exception"/>.</summary>
    public static ApiErrorException ToApiError(Exception exception) => exception switch
    {
        ApiErrorException apiError => apiError,
        BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } => new ApiErrorException(
            StatusCodes.Status413PayloadTooLarge, "invalid_request_error",
            "The request body is larger than this server accepts.", "request_too_large"),
        BadHttpRequestException badRequest => new ApiErrorException(
            badRequest.StatusCode, "invalid_request_error", badRequest.Message, "bad_request"),
        _ => new ApiErrorException(StatusCodes.Status500InternalServerError, "server_error",
            "The server had an internal error while processing the request.", "internal_error", innerException: exception),
    };

    /// <summary>The envelope of <paramref name="error"/>.</summary>
    public static ErrorResponse ToErrorResponse(this ApiErrorException error) =>
        new(new ErrorDetail { Message = error.Message, Type = error.Type, Param = error.Param, Code = error.Code });

    /// <summary>Writes <paramref name="error"/> as a complete JSON response with its status.</summary>
    public static Task WriteAsync(HttpResponse response, ApiErrorException error)
    {
        response.StatusCode = error.StatusCode;
        response.HttpContext.Features.Get<RequestOutcome>()?.Failed(error);
        if (error.RetryAfter is { } retryAfter)
        {
            response.Headers.RetryAfter = ((int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        return response.WriteAsJsonAsync(error.ToErrorResponse(), ApiJsonContext.Default.ErrorResponse);
    }

    private static Task WriteExceptionAsync(HttpContext context)
    {
        var exception = context.Features.GetRequiredFeature<IExceptionHandlerFeature>().Error;
        return WriteAsync(context.Response, RequestCutoff.Of(context)?.Error ?? ToApiError(exception));
    }

    /// <summary>The envelope's writer for the layers below the endpoints (authentication's challenge).</summary>
    internal sealed class Writer : IApiErrorWriter
    {
        public Task WriteAsync(HttpResponse response, ApiErrorException error) => OpenAIErrors.WriteAsync(response, error);
    }
}
