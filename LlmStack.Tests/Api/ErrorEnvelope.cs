using System.Text.Json;

namespace LlmStack.Tests.Api;

/// <summary>OpenAI's error envelope as a client reads it; fails the test when the body is not one.</summary>
internal sealed record ErrorEnvelope(string Message, string Type, string? Param, string? Code)
{
    public static async Task<ErrorEnvelope> ReadAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return Parse(body);
    }

    public static ErrorEnvelope Parse(string body)
    {
        using var json = JsonDocument.Parse(body);
        var error = json.RootElement.GetProperty("error");
        // All four keys are always present, as in OpenAI's own responses.
        var param = error.GetProperty("param");
        var code = error.GetProperty("code");
        return new ErrorEnvelope(
            error.GetProperty("message").GetString()!,
            error.GetProperty("type").GetString()!,
            param.ValueKind == JsonValueKind.Null ? null : param.GetString(),
            code.ValueKind == JsonValueKind.Null ? null : code.GetString());
    }
}
