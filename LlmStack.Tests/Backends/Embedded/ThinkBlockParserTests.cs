using LlmStack.Api.Backends.Embedded;
using Microsoft.Extensions.AI;

namespace LlmStack.Tests.Backends.Embedded;

/// <summary>How &lt;think&gt; blocks are told apart from the reply, whatever the pieces the model emits them in.</summary>
public sealed class ThinkBlockParserTests
{
    [Theory]
    [InlineData("<think>Plan.</think>\n\nHello")]
    [InlineData("<th|ink>Pl|an.</th|ink>|\n|\nHel|lo")]
    [InlineData("\n<think>|Plan.|</think>Hello")]
    public void Block_at_the_start_is_reasoning_and_the_rest_the_reply(string split)
    {
        var pieces = split.Split('|');
        var parser = new ThinkBlockParser();

        var contents = pieces.SelectMany(parser.Push).Concat(parser.Flush()).ToList();

        Assert.Equal("Plan.", string.Concat(contents.OfType<TextReasoningContent>().Select(c => c.Text)));
        Assert.Equal("Hello", string.Concat(contents.OfType<TextContent>().Select(c => c.Text)));
        Assert.True(contents.FindLastIndex(c => c is TextReasoningContent) < contents.FindIndex(c => c is TextContent));
    }

    [Fact]
    public void Tag_later_in_the_reply_stays_text()
    {
        var parser = new ThinkBlockParser();

        var contents = new[] { "Use a ", "<think>", " tag." }.SelectMany(parser.Push).Concat(parser.Flush()).ToList();

        Assert.All(contents, c => Assert.IsType<TextContent>(c));
        Assert.Equal("Use a <think> tag.", string.Concat(contents.OfType<TextContent>().Select(c => c.Text)));
    }

    [Fact]
    public void Prompt_that_opened_the_block_makes_the_first_text_reasoning_and_a_cut_block_stays_reasoning()
    {
        var opened = new ThinkBlockParser(startsInside: ThinkBlockParser.OpenedBy("<|im_start|>assistant\n<think>\n"));
        var cut = new ThinkBlockParser();

        var answered = new[] { "Plan.", "</think>", "Hi" }.SelectMany(opened.Push).Concat(opened.Flush()).ToList();
        var unfinished = new[] { "<think>", "Still thinking" }.SelectMany(cut.Push).Concat(cut.Flush()).ToList();

        Assert.Equal(["Plan.", "Hi"], answered.Select(c => c is TextReasoningContent r ? r.Text : ((TextContent)c).Text));
        Assert.IsType<TextReasoningContent>(answered[0]);
        Assert.Equal("Still thinking", Assert.IsType<TextReasoningContent>(Assert.Single(unfinished)).Text);
    }

    [Theory]
    [InlineData("{{ '<think>' }}{{ content.split('</think>')[-1] }}", true)]
    [InlineData("{% for message in messages %}{{'<|im_start|>' + message['role'] }}{% endfor %}", false)]
    [InlineData(null, false)]
    public void Template_that_mentions_the_closing_tag_uses_blocks(string? template, bool uses) =>
        Assert.Equal(uses, ThinkBlockParser.UsedBy(template));
}
