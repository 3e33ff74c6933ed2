using LLama;
using LlmStack.Api.Backends.Embedded;
using Microsoft.Extensions.AI;

namespace LlmStack.Tests.Backends.Embedded;

/// <summary>Prompt rendering with llama.cpp's ChatML template (no model needed).</summary>
public sealed class ChatPromptTests
{
    [Fact]
    public void Conversation_is_rendered_with_the_template_and_ends_with_the_assistant_marker()
    {
        var prompt = ChatPrompt.Render(new LLamaTemplate("chatml"),
            [new(ChatRole.System, "Be brief."), new(ChatRole.User, "Hi"), new(ChatRole.Assistant, "Hello!"), new(ChatRole.User, "Bye")],
            new ChatOptions { Instructions = "Answer in English." });

        Assert.Equal(
            "<|im_start|>system\nAnswer in English.\n\nBe brief.<|im_end|>\n" +
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n" +
            "<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n",
            prompt);
    }

    [Fact]
    public void Tools_calls_and_results_are_rendered_the_way_qwen_does()
    {
        var weather = AIFunctionFactory.Create((string city) => "", "get_weather", "Current weather");
        var options = new ChatOptions { Tools = [weather] };
        ChatMessage[] messages =
        [
            new(ChatRole.User, "Weather in Paris?"),
            new(ChatRole.Assistant, [new FunctionCallContent("call_1", "get_weather", new Dictionary<string, object?> { ["city"] = "Paris" })]),
            new(ChatRole.Tool, [new FunctionResultContent("call_1", "Sunny, 21 C")]),
        ];

        var prompt = ChatPrompt.Render(new LLamaTemplate("chatml"), messages, options);

        Assert.StartsWith("<|im_start|>system\n# Tools\n", prompt, StringComparison.Ordinal);
        Assert.Contains("<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Current weather\", \"parameters\": {", prompt, StringComparison.Ordinal);
        Assert.Contains("<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>", prompt, StringComparison.Ordinal);
        Assert.Contains("<|im_start|>user\n<tool_response>\nSunny, 21 C\n</tool_response><|im_end|>", prompt, StringComparison.Ordinal);
    }

    [Fact]
    public void Tool_mode_none_leaves_tools_out()
    {
        var options = new ChatOptions { Tools = [AIFunctionFactory.Create(() => "", "noop")], ToolMode = ChatToolMode.None };

        var prompt = ChatPrompt.Render(new LLamaTemplate("chatml"), [new(ChatRole.User, "Hi")], options);

        Assert.DoesNotContain("# Tools", prompt, StringComparison.Ordinal);
    }
}
