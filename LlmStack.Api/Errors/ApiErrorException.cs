namespace LlmStack.Api.Errors;

/// <summary>
/// An error reported to the client in OpenAI's envelope <c>{"error":{"message","type","param","code"}}</c>
/// with <see cref="StatusCode"/>. Backends throw it (or exceptions the error mapping translates into it);
/// the endpoints write it, as a response before a stream has started or as an SSE error event after.
/// </summary>
internal class ApiErrorException(
    int statusCode,
    string type,
    string message,
    string? code = null,
    string? param = null,
    Exception? innerException = null) : Exception(message, innerException)
{
    public int StatusCode { get; } = statusCode;

    /// <summary>OpenAI's error type: invalid_request_error, not_found_error, rate_limit_error, server_error, ...</summary>
    public string Type { get; } = type;

    public string? Code { get; } = code;

    /// <summary>The request field at fault, when there is one (e.g. <c>messages[2].role</c>).</summary>
    public string? Param { get; } = param;

    /// <summary>Sent as <c>Retry-After</c> (429 and 503).</summary>
    public TimeSpan? RetryAfter { get; init; }

    public static ApiErrorException InvalidRequest(string message, string? param = null, string code = "invalid_value") =>
        new(StatusCodes.Status400BadRequest, "invalid_request_error", message, code, param);

    /// <summary>A value of the wrong JSON type: <c>Invalid type for 'temperature': expected a number, but got a string.</c></summary>
    public static ApiErrorException InvalidType(string param, string expected, string got) =>
        InvalidRequest($"Invalid type for '{param}': expected {expected}, but got {got}.", param, "invalid_type");

    public static ApiErrorException ModelNotFound(string model) =>
        new(StatusCodes.Status404NotFound, "invalid_request_error",
            $"The model '{model}' does not exist or you do not have access to it.", "model_not_found", "model");

    /// <summary>How long a client should wait before asking again for a model that is still loading.</summary>
    public static readonly TimeSpan ModelLoadingRetryAfter = TimeSpan.FromSeconds(10);

    /// <summary>
    /// 503 for a served model its backend does not have yet (still downloading or loading), with
    /// <c>Retry-After</c>: llama.cpp's server answers the same while it loads its model.
    /// </summary>
    public static ApiErrorException ModelLoading(string model, string detail, Exception? inner = null) =>
        new(StatusCodes.Status503ServiceUnavailable, "server_error",
            $"The model '{model}' is loading: {detail} Retry later.", "model_loading", innerException: inner)
        {
            RetryAfter = ModelLoadingRetryAfter,
        };

    /// <summary>The error code of a request refused because the model has no room for it now (503).</summary>
    public const string ModelOverloadedCode = "model_overloaded";

    /// <summary>503 <c>model_overloaded</c>: the model cannot take the request now (<paramref name="why"/>); retry after <paramref name="retryAfter"/>.</summary>
    public static ApiErrorException ModelOverloaded(string model, string why, TimeSpan retryAfter) =>
        new(StatusCodes.Status503ServiceUnavailable, "server_error",
            $"The model '{model}' is overloaded: {why} Please retry later.", ModelOverloadedCode)
        {
            RetryAfter = retryAfter,
        };

    public static ApiErrorException ContextLengthExceeded(int promptTokens, int contextLength) =>
        new(StatusCodes.Status400BadRequest, "invalid_request_error",
            $"This model's maximum context length is {contextLength} tokens. However, your messages resulted in {promptTokens} tokens.",
            "context_length_exceeded", "messages");

    public static ApiErrorException BackendUnavailable(string model, string detail, Exception? inner = null) =>
        new(StatusCodes.Status503ServiceUnavailable, "server_error",
            $"The backend of model '{model}' is unavailable: {detail}", "backend_unavailable", innerException: inner);

    public static ApiErrorException BackendTimeout(string model, string detail, Exception? inner = null) =>
        new(StatusCodes.Status504GatewayTimeout, "server_error",
            $"The backend of model '{model}' did not answer in time: {detail}", "backend_timeout", innerException: inner);

    public static ApiErrorException BackendFailed(string model, string detail, Exception? inner = null) =>
        new(StatusCodes.Status502BadGateway, "server_error",
            $"The backend of model '{model}' failed: {detail}", "backend_error", innerException: inner);

    public static ApiErrorException RateLimited(string model, TimeSpan? retryAfter, Exception? inner = null) =>
        new(StatusCodes.Status429TooManyRequests, "rate_limit_error",
            $"The backend of model '{model}' is rate limiting requests; retry later.", "rate_limit_exceeded", innerException: inner)
        {
            RetryAfter = retryAfter,
        };
}
