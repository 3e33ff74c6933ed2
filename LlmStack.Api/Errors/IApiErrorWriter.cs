namespace LlmStack.Api.Errors;

/// <summary>
/// Writes an <see cref="ApiErrorException"/> as the client's whole response, in the API's error envelope - for the
/// parts that answer before or beside the endpoints (authentication's challenge). The endpoints own the envelope's
/// wire shape; this is how the layers below reach it.
/// </summary>
internal interface IApiErrorWriter
{
    Task WriteAsync(HttpResponse response, ApiErrorException error);
}
