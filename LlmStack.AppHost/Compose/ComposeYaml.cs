using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.EventEmitters;

namespace LlmStack.AppHost.Compose;

/// <summary>Writes the compose model as YAML that both Compose v2 and docker-compose 1.29 (a YAML 1.1 reader) read alike.</summary>
internal static partial class ComposeYaml
{
    private static readonly ISerializer Serializer = new SerializerBuilder()
        .ConfigureDefaultValuesHandling(DefaultValuesHandling.OmitNull | DefaultValuesHandling.OmitEmptyCollections)
        .WithEventEmitter(inner => new Yaml11SafeScalars(inner))
        .DisableAliases()
        .Build();

    public static string Serialize(object value) => Serializer.Serialize(value);

    /// <summary>
    /// YAML 1.1 reads <c>no</c>, <c>on</c>, <c>y</c> as booleans and <c>22:22</c> as a base-60 number; docker-compose
    /// 1.29 is such a reader (<c>restart: no</c> would be <c>false</c>). Such strings are written quoted.
    /// </summary>
    private sealed partial class Yaml11SafeScalars(IEventEmitter next) : ChainedEventEmitter(next)
    {
        public override void Emit(ScalarEventInfo eventInfo, IEmitter emitter)
        {
            if (eventInfo.Source.Type == typeof(string) && eventInfo.Source.Value is string text)
            {
                if (text.Contains('\n', StringComparison.Ordinal))
                {
                    // A script stays a script: literal style keeps every line break (folded style would join lines).
                    eventInfo.Style = ScalarStyle.Literal;
                }
                else if (NeedsQuotes().IsMatch(text))
                {
                    eventInfo.Style = ScalarStyle.DoubleQuoted;
                }
            }
            base.Emit(eventInfo, emitter);
        }

        [GeneratedRegex(@"^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|~|null|Null|NULL|[-+0-9.:eE_]+|)$")]
        private static partial Regex NeedsQuotes();
    }
}
