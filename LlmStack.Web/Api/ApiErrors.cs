using System.ClientModel;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Extensions.AI;
using OpenAI.Chat;

namespace LlmStack.Web.Api;

/// <summary>Turns what went wrong talking to the API into a sentence a person can act on.</summary>
public static class ApiErrors
{
    /// <summary>Describes a failed chat request, quoting the API's own error message when it sent one.</summary>
    public static string DescribeRequestFailure(Exception exception, Uri apiAddress) => exception switch
    {
        ClientResultException { Status: > 0 } clientError =>
            $"The API answered {clientError.Status}: {ReadErrorMessage(clientError) ?? clientError.Message}",
        ClientResultException { InnerException: { } inner } => DescribeUnreachable(inner, apiAddress),
        // Not the reader's Stop (the page handles that): the SDK's network timeout ran out.
        HttpRequestException or SocketException or TimeoutException or OperationCanceledException =>
            DescribeUnreachable(exception, apiAddress),
        _ => exception.Message,
    };

    /// <summary>Describes an API that did not answer (refused, timed out, not an LlmStack API).</summary>
    public static string DescribeUnreachable(Exception exception, Uri apiAddress) => exception switch
    {
        OperationCanceledException or TimeoutException => $"The LlmStack API at {apiAddress} did not answer in time.",
        JsonException => $"{apiAddress} answered, but not like an LlmStack API ({exception.Message}).",
        HttpRequestException { StatusCode: { } status } =>
            $"The LlmStack API at {apiAddress} answered {(int)status} {status}.",
        _ => $"Can't reach the LlmStack API at {apiAddress}: {exception.GetBaseException().Message}",
    };

    /// <summary>
    /// The message of an error the API sent after the stream had started (<c>data: {"error":{...}}</c>, e.g. the
    /// conversation outgrew the model's context). The OpenAI SDK does not raise it: it arrives as an update with
    /// no choices, its fields kept in the update's JSON patch.
    /// </summary>
    public static string? ReadStreamedError(ChatResponseUpdate update)
    {
#pragma warning disable SCME0001 // JsonPatch is experimental; it is where the SDK keeps fields it does not model.
        return update.RawRepresentation is StreamingChatCompletionUpdate raw
               && raw.Patch.TryGetValue("$.error.message"u8, out string? message)
            ? message
            : null;
#pragma warning restore SCME0001
    }

    private static string? ReadErrorMessage(ClientResultException exception)
    {
        var response = exception.GetRawResponse();
        if (response is null)
        {
            return null;
        }
        try
        {
            var envelope = JsonSerializer.Deserialize(response.Content, ApiJsonContext.Default.ErrorEnvelope);
            return envelope?.Error?.Message;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // Not OpenAI's envelope (a proxy's HTML page, say): the SDK's own message says enough.
            return null;
        }
    }
}
