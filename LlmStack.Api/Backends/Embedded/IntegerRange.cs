using System.Globalization;

namespace LlmStack.Api.Backends.Embedded;

/// <summary>
/// GBNF for the integers between two bounds, written the way JSON writes them (no leading zeros), built digit
/// by digit: [123, 456] is "1" [2-9] [3-9]... split at the first digit where the bounds differ.
/// </summary>
internal static class IntegerRange
{
    // Unbounded integers stop at 16 digits, like the grammar's plain integers.
    private const int MaxDigits = 16;

    /// <summary>An expression for the integers in [<paramref name="min"/>, <paramref name="max"/>]; null is unbounded.</summary>
    public static string Expression(decimal? min, decimal? max)
    {
        var alternatives = new List<string>();
        if (min is null || min < 0)
        {
            // Negative numbers: "-" and a magnitude from 1 (or -max) up to -min.
            var low = max < 0 ? -max.Value : 1;
            alternatives.Add($"\"-\" ( {NonNegative(low, -min)} )");
        }
        if (max is null || max >= 0)
        {
            alternatives.Add(NonNegative(min is null || min < 0 ? 0 : min.Value, max));
        }
        return string.Join(" | ", alternatives);
    }

    private static string NonNegative(decimal low, decimal? high)
    {
        var lowText = Digits(low);
        var alternatives = new List<string>();
        if (high is null)
        {
            alternatives.Add(SameLength(lowText, new string('9', lowText.Length)));
            if (lowText.Length < MaxDigits)
            {
                alternatives.Add($"[1-9] [0-9]{{{lowText.Length},{MaxDigits - 1}}}");
            }
            return string.Join(" | ", alternatives);
        }
        var highText = Digits(high.Value);
        for (var length = lowText.Length; length <= highText.Length; length++)
        {
            var from = length == lowText.Length ? lowText : "1" + new string('0', length - 1);
            var to = length == highText.Length ? highText : new string('9', length);
            alternatives.Add(SameLength(from, to));
        }
        return string.Join(" | ", alternatives);
    }

    /// <summary>The numbers from <paramref name="from"/> to <paramref name="to"/>, both with the same number of digits.</summary>
    private static string SameLength(string from, string to)
    {
        if (from.Length == 0)
        {
            return "";
        }
        if (from == to)
        {
            return $"\"{from}\"";
        }
        var (a, b) = (from[0], to[0]);
        var restLength = from.Length - 1;
        if (a == b)
        {
            return $"\"{a}\" ( {SameLength(from[1..], to[1..])} )";
        }
        var lowFull = from[1..].All(c => c == '0');
        var highFull = to[1..].All(c => c == '9');
        var parts = new List<string>();
        var middleFrom = (char)(a + 1);
        var middleTo = (char)(b - 1);
        if (lowFull)
        {
            middleFrom = a;
        }
        else
        {
            parts.Add($"\"{a}\" ( {SameLength(from[1..], new string('9', restLength))} )");
        }
        if (highFull)
        {
            middleTo = b;
        }
        if (middleFrom <= middleTo)
        {
            parts.Add(Class(middleFrom, middleTo) + AnyDigits(restLength));
        }
        if (!highFull)
        {
            parts.Add($"\"{b}\" ( {SameLength(new string('0', restLength), to[1..])} )");
        }
        return string.Join(" | ", parts);
    }

    private static string Class(char from, char to) => from == to ? $"\"{from}\"" : $"[{from}-{to}]";

    private static string AnyDigits(int count) => count == 0 ? "" : $" [0-9]{{{count}}}";

    private static string Digits(decimal value) => decimal.Truncate(value).ToString(CultureInfo.InvariantCulture);
}
