using System.Text.Json;
using LlmStack.Api.Backends.Embedded;
using Microsoft.Extensions.AI;

namespace LlmStack.Tests.Backends.Embedded;

/// <summary>Stop sequences and tool calls cut out of text that arrives in arbitrary fragments.</summary>
public sealed class OutputParsingTests
{
    [Fact]
    public void Stop_sequence_split_over_fragments_is_never_sent()
    {
        var stops = new StopSequenceMatcher(["END"]);

        var sent = string.Concat(new[] { "abc E", "N", "x E", "ND tail" }.Select(stops.Push)) + stops.Flush();

        Assert.Equal("abc ENx ", sent);
        Assert.True(stops.Stopped);
    }

    [Fact]
    public void Text_held_back_for_a_possible_stop_is_released_at_the_end()
    {
        var stops = new StopSequenceMatcher(["</answer>"]);

        var sent = stops.Push("value </ans");

        Assert.Equal("value ", sent);
        Assert.Equal("</ans", stops.Flush());
        Assert.False(stops.Stopped);
    }

    [Fact]
    public void Tool_call_split_over_fragments_becomes_one_call_between_texts()
    {
        var parser = new ToolCallParser();
        string[] fragments = ["Let me check. <tool", "_call>\n{\"name\": \"get_weather\", ", "\"arguments\": {\"city\": \"Paris\"}}\n</tool_", "call>\nDone."];

        var contents = fragments.SelectMany(parser.Push).Concat(parser.Flush()).ToList();

        Assert.Equal("Let me check. ", Assert.IsType<TextContent>(contents[0]).Text);
        var call = Assert.IsType<FunctionCallContent>(contents[1]);
        Assert.Equal("get_weather", call.Name);
        Assert.Equal("Paris", ((JsonElement)call.Arguments!["city"]!).GetString());
        Assert.Equal("Done.", Assert.IsType<TextContent>(Assert.Single(contents.Skip(2))).Text);
    }

    [Fact]
    public void Arguments_sent_as_a_json_string_are_parsed_too()
    {
        var parser = new ToolCallParser();

        var call = Assert.IsType<FunctionCallContent>(Assert.Single(parser.Push("<tool_call>{\"name\": \"f\", \"arguments\": \"{\\\"x\\\": 1}\"}</tool_call>")));

        Assert.Equal(1, ((JsonElement)call.Arguments!["x"]!).GetInt32());
    }

    [Fact]
    public void Malformed_tool_call_stays_text()
    {
        var parser = new ToolCallParser();

        var text = string.Concat(parser.Push("<tool_call>{not json}</tool_call>").Concat(parser.Flush()).Cast<TextContent>().Select(t => t.Text));

        Assert.Equal("<tool_call>{not json}</tool_call>", text);
    }

    [Fact]
    public void Unclosed_tool_call_is_parsed_at_the_end_when_complete()
    {
        var parser = new ToolCallParser();

        Assert.Empty(parser.Push("<tool_call>\n{\"name\": \"f\", \"arguments\": {}}"));
        var call = Assert.IsType<FunctionCallContent>(Assert.Single(parser.Flush()));

        Assert.Equal("f", call.Name);
    }
}
