using LlmStack.Api.Backends.Embedded;

namespace LlmStack.Tests.Backends.Embedded;

/// <summary>The strict UTF-8 check that grammar-bound sampling applies to every token's bytes (Unicode's table 3-7).</summary>
public sealed class Utf8StateTests
{
    [Theory]
    [InlineData(new byte[] { 0x41 })]
    [InlineData(new byte[] { 0xC3, 0xA4 })]
    [InlineData(new byte[] { 0xE0, 0xA0, 0x80 })]
    [InlineData(new byte[] { 0xED, 0x9F, 0xBF })]
    [InlineData(new byte[] { 0xF0, 0x9F, 0x99, 0x82 })]
    [InlineData(new byte[] { 0xF4, 0x8F, 0xBF, 0xBF })]
    public void Well_formed_characters_end_clean_whichever_way_they_are_split(byte[] bytes)
    {
        Assert.Equal(Utf8State.Clean, Utf8State.Advance(Utf8State.Clean, bytes));
        for (var split = 1; split < bytes.Length; split++)
        {
            var middle = Utf8State.Advance(Utf8State.Clean, bytes.AsSpan(0, split));
            Assert.NotEqual(Utf8State.Clean, middle);
            Assert.NotEqual(Utf8State.Invalid, middle);
            Assert.Equal(Utf8State.Clean, Utf8State.Advance(middle, bytes.AsSpan(split)));
        }
    }

    [Theory]
    [InlineData(new byte[] { 0x80 })]                   // a continuation byte alone
    [InlineData(new byte[] { 0xC0, 0x80 })]             // overlong NUL
    [InlineData(new byte[] { 0xC1, 0x81 })]             // overlong 'A'
    [InlineData(new byte[] { 0xE0, 0x81, 0x81 })]       // overlong three-byte form
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })]       // a UTF-16 surrogate
    [InlineData(new byte[] { 0xF4, 0x90, 0x80, 0x80 })] // past U+10FFFF
    [InlineData(new byte[] { 0xF5, 0x80, 0x80, 0x80 })]
    [InlineData(new byte[] { 0xC3, 0x41 })]             // a lead byte followed by ASCII
    [InlineData(new byte[] { 0xFF })]
    public void Malformed_bytes_are_refused(byte[] bytes) =>
        Assert.Equal(Utf8State.Invalid, Utf8State.Advance(Utf8State.Clean, bytes));
}
