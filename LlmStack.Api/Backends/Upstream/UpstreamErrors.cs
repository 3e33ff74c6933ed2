using System.Net;
using LlmStack.Api.Errors;

namespace LlmStack.Api.Backends.Upstream;

/// <summary>
/// What a failed call to a backend server means for the API's client, once for every HTTP backend:
/// <list type="table">
/// <item><term>connection refused, DNS, TLS</term><description>503 backend_unavailable</description></item>
/// <item><term>connect timeout, upstream 408/504</term><description>504 backend_timeout</description></item>
/// <item><term>upstream 404</term><description>404 model_not_found, or 503 model_loading (with Retry-After) for a
/// backend whose missing models are still on their way (Ollama: being pulled)</description></item>
/// <item><term>upstream 429</term><description>429 rate_limit_exceeded, with the upstream's Retry-After</description></item>
/// <item><term>upstream 503</term><description>503 backend_unavailable, with the upstream's Retry-After</description></item>
/// <item><term>upstream 401/403, other 5xx, a broken response, an error event in a stream</term><description>502 backend_error</description></item>
/// <item><term>upstream 400 and other 4xx</term><description>400 invalid_request_error</description></item>
/// </list>
/// Messages carry the server's own words. Cancellation by the caller stays an
/// <see cref="OperationCanceledException"/>.
/// </summary>
internal static class UpstreamErrors
{
    /// <summary>
    /// The exception to throw instead of <paramref name="exception"/>; the same instance when there is
    /// nothing to translate (already an API error, a cancellation, or an unexpected bug that should stay a 500).
    /// </summary>
    /// <param name="exception">What the backend call threw.</param>
    /// <param name="model">The model id clients sent.</param>
    /// <param name="missingModel">What an upstream 404 means for this backend.</param>
    /// <param name="cancellationToken">The call's token: when canceled, the failure is the caller's cancellation.</param>
    public static Exception Translate(
        Exception exception, string model, CancellationToken cancellationToken, MissingModel missingModel = MissingModel.NotFound)
    {
        if (exception is ApiErrorException)
        {
            return exception;
        }
        if (cancellationToken.IsCancellationRequested)
        {
            // An aborted read surfaces as IOException or ObjectDisposedException; the caller asked for it.
            return exception as OperationCanceledException
                ?? new OperationCanceledException("The call to the backend was canceled.", exception, cancellationToken);
        }
        if (Find<UpstreamHttpException>(exception) is { } upstream)
        {
            return FromStatus(upstream, model, missingModel);
        }
        if (Find<TimeoutException>(exception) is { } timeout)
        {
            // SocketsHttpHandler reports its ConnectTimeout as a cancellation wrapping a TimeoutException.
            return ApiErrorException.BackendTimeout(model, timeout.Message, exception);
        }
        if (Find<HttpRequestException>(exception) is { } http)
        {
            return http.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError
                or HttpRequestError.SecureConnectionError or HttpRequestError.ProxyTunnelError
                ? ApiErrorException.BackendUnavailable(model, http.Message, exception)
                : ApiErrorException.BackendFailed(model, http.Message, exception);
        }
        if (Find<System.Text.Json.JsonException>(exception) is { } json)
        {
            // Something answered that does not speak the backend's protocol (a proxy's error page, another service).
            return ApiErrorException.BackendFailed(model, $"its answer is not the backend's protocol: {json.Message}", exception);
        }
        if (Find<UpstreamStreamErrorException>(exception) is { } reported)
        {
            return ApiErrorException.BackendFailed(model, $"it reported an error in its stream: {reported.UpstreamMessage}", exception);
        }
        if (Find<IOException>(exception) is { } io)
        {
            return ApiErrorException.BackendFailed(model, $"the response broke off: {io.Message}", exception);
        }
        return exception;
    }

    private static ApiErrorException FromStatus(UpstreamHttpException upstream, string model, MissingModel missingModel)
    {
        var status = upstream.StatusCode.GetValueOrDefault();
        var said = upstream.Message;
        return status switch
        {
            HttpStatusCode.NotFound when missingModel == MissingModel.Loading => ApiErrorException.ModelLoading(model,
                $"its backend does not have it yet ({upstream.UpstreamMessage}); it is being downloaded or must be pulled.", upstream),
            HttpStatusCode.NotFound => new ApiErrorException(StatusCodes.Status404NotFound, "invalid_request_error",
                $"The model '{model}' is not available at its backend: {upstream.UpstreamMessage}",
                "model_not_found", "model", upstream),
            HttpStatusCode.TooManyRequests => ApiErrorException.RateLimited(model, upstream.RetryAfter, upstream),
            HttpStatusCode.ServiceUnavailable => new ApiErrorException(StatusCodes.Status503ServiceUnavailable, "server_error",
                $"The backend of model '{model}' is unavailable: {said}", "backend_unavailable", innerException: upstream)
            {
                RetryAfter = upstream.RetryAfter,
            },
            HttpStatusCode.RequestTimeout or HttpStatusCode.GatewayTimeout => ApiErrorException.BackendTimeout(model, said, upstream),
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => ApiErrorException.BackendFailed(model,
                $"it refused the configured credentials (check the model's ApiKey): {said}", upstream),
            _ when (int)status is >= 400 and < 500 => new ApiErrorException(StatusCodes.Status400BadRequest, "invalid_request_error",
                $"The backend of model '{model}' rejected the request: {said}", "backend_rejected", innerException: upstream),
            _ => ApiErrorException.BackendFailed(model, said, upstream),
        };
    }

    /// <summary>The first exception of type <typeparamref name="T"/> in the chain of inner exceptions.</summary>
    public static T? Find<T>(Exception exception) where T : Exception
    {
        for (Exception? current = exception; current is not null; current = current.InnerException)
        {
            if (current is T found)
            {
                return found;
            }
        }
        return null;
    }
}

/// <summary>What an upstream 404 for the configured model means.</summary>
internal enum MissingModel
{
    /// <summary>The backend does not serve the model (a wrong name): 404 model_not_found.</summary>
    NotFound,

    /// <summary>
    /// The backend will have the model once it is downloaded (Ollama while the AppHost or a person pulls it): 503
    /// model_loading with Retry-After, so that clients wait and retry instead of giving up.
    /// </summary>
    Loading,
}
