using System.Text.Json;
using LlmStack.Api.Backends;
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

        var all = fragments.SelectMany(parser.Push).Concat(parser.Flush()).ToList();
        var contents = all.Where(c => c is not FunctionCallArgumentsContent).ToList();

        Assert.Equal("Let me check. ", Assert.IsType<TextContent>(contents[0]).Text);
        var call = Assert.IsType<FunctionCallContent>(contents[1]);
        Assert.Equal("get_weather", call.Name);
        Assert.Equal("Paris", ((JsonElement)call.Arguments!["city"]!).GetString());
        Assert.Equal("Done.", Assert.IsType<TextContent>(Assert.Single(contents.Skip(2))).Text);
        // The arguments went out before the call, as they arrived, under its id.
        var pieces = all.OfType<FunctionCallArgumentsContent>().ToList();
        Assert.Equal("{\"city\": \"Paris\"}", string.Concat(pieces.Select(p => p.Fragment)));
        Assert.All(pieces, p => Assert.Equal((call.CallId, "get_weather"), (p.CallId, p.Name)));
        Assert.True(all.IndexOf(pieces[^1]) < all.IndexOf(call));
    }

    [Fact]
    public void Arguments_streamed_a_character_at_a_time_end_at_their_own_closing_brace()
    {
        var parser = new ToolCallParser();
        // Braces, brackets, quotes and a backslash inside strings do not end the object; nested ones do not either.
        const string arguments = """{"q": "a } \" { ] \\", "n": [1, {"x": 2}], "e": {}}""";
        var block = "<tool_call>\n{\"name\": \"search\", \"arguments\": " + arguments + "}\n</tool_call>";

        var all = block.Select(c => c.ToString()).SelectMany(parser.Push).Concat(parser.Flush()).ToList();

        var pieces = all.OfType<FunctionCallArgumentsContent>().ToList();
        Assert.True(pieces.Count > 10, $"{pieces.Count} pieces");
        Assert.Equal(arguments, string.Concat(pieces.Select(p => p.Fragment)));
        var call = Assert.IsType<FunctionCallContent>(Assert.Single(all, c => c is not FunctionCallArgumentsContent));
        Assert.Equal(call.CallId, pieces[0].CallId);
        Assert.Equal(2, ((JsonElement)call.Arguments!["n"]!)[1].GetProperty("x").GetInt32());
    }

    [Fact]
    public void A_call_whose_name_is_not_yet_written_streams_nothing()
    {
        var parser = new ToolCallParser();

        Assert.Empty(parser.Push("<tool_call>\n{\"name\": \"get_wea"));
        Assert.Empty(parser.Push("ther\", \"argu"));
        var first = Assert.IsType<FunctionCallArgumentsContent>(Assert.Single(parser.Push("ments\": {\"ci")));

        Assert.Equal(("get_weather", "{\"ci"), (first.Name, first.Fragment));
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

        var streamed = Assert.IsType<FunctionCallArgumentsContent>(Assert.Single(parser.Push("<tool_call>\n{\"name\": \"f\", \"arguments\": {}}")));
        var call = Assert.IsType<FunctionCallContent>(Assert.Single(parser.Flush()));

        Assert.Equal("f", call.Name);
        Assert.Equal(("{}", call.CallId), (streamed.Fragment, streamed.CallId));
    }
}
