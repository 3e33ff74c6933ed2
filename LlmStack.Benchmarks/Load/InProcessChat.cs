using Microsoft.Extensions.AI;

namespace LlmStack.Benchmarks.Load;

/// <summary>
/// The same request as <see cref="ChatStreamClient"/> sends, made directly to a backend's <see cref="IChatClient"/>
/// in this process and timed the same way: the baseline that the API's HTTP layer is compared against.
/// </summary>
public static class InProcessChat
{
    public static async Task<RequestSample> SendAsync(IChatClient client, Workload workload, int requestNumber, CancellationToken cancellationToken)
    {
        var options = new ChatOptions { ModelId = workload.Model, MaxOutputTokens = workload.MaxTokens, Temperature = 0, Seed = workload.Seed };
        var timer = new StreamTimer();
        int? outputTokens = null, promptTokens = null;
        try
        {
            await foreach (var update in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, workload.Prompt(requestNumber))], options, cancellationToken))
            {
                if (update.Text.Length > 0)
                {
                    timer.Content();
                }
                foreach (var usage in update.Contents.OfType<UsageContent>())
                {
                    (outputTokens, promptTokens) = ((int?)usage.Details.OutputTokenCount, (int?)usage.Details.InputTokenCount);
                }
            }
            return timer.Finish(outputTokens, promptTokens);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return timer.Finish(outputTokens, promptTokens, $"{ex.GetType().Name}: {ex.Message}");
        }
    }
}
