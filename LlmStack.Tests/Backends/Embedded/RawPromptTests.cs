using LlmStack.Api.Backends;
using LlmStack.Api.Errors;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.AI;

namespace LlmStack.Tests.Backends.Embedded;

/// <summary>A text completion's raw prompt on the embedded engine: tokenized as written, with no chat template around it.</summary>
public sealed class RawPromptTests(GeneratedModels models)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private static ChatOptions Raw(string? suffix = null)
    {
        var options = new ChatOptions { MaxOutputTokens = 4 };
        LlmStackChatOptions.SetRawPrompt(options, suffix);
        return options;
    }

    [Fact]
    public async Task Raw_prompt_is_the_prompts_own_tokens_without_the_chat_template()
    {
        using var model = LoadedModel.Load(models.Scripted);
        const string prompt = "Once upon a time <|im_start|>";
        var weights = model.Host.Weights;
        var expected = weights.Tokenize(prompt, weights.Vocab.ShouldAddBOS, special: true, LLama.LLamaTemplate.Encoding);

        var raw = await model.Client.GetResponseAsync(prompt, Raw(), Cancel).WaitAsync(Timeout, Cancel);
        var chat = await model.Client.GetResponseAsync(prompt, new ChatOptions { MaxOutputTokens = 4 }, Cancel).WaitAsync(Timeout, Cancel);

        Assert.Equal(expected.Length, raw.Usage!.InputTokenCount);
        // Written in the prompt, the model's control token is that token (as llama-server reads a completion's prompt).
        Assert.Contains(expected, token => weights.Vocab.LLamaTokenToString(token, true) == "<|im_start|>");
        Assert.True(chat.Usage!.InputTokenCount > raw.Usage.InputTokenCount + 4, $"chat {chat.Usage.InputTokenCount}, raw {raw.Usage.InputTokenCount}");
        Assert.Equal(string.Concat(GeneratedModels.PiecesOf(GeneratedModels.ScriptedReply).Take(4)), raw.Text);
    }

    [Fact]
    public async Task A_suffix_for_a_model_without_fill_in_the_middle_tokens_is_a_400()
    {
        using var model = LoadedModel.Load(models.Scripted);

        var error = await Assert.ThrowsAsync<ApiErrorException>(() => model.Client.GetResponseAsync("def f():", Raw("\nreturn 1"), Cancel));

        Assert.Equal(400, error.StatusCode);
        Assert.Equal("suffix", error.Param);
        Assert.Contains("fill in the middle", error.Message);
    }
}
