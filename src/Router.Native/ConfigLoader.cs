using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;
using Router.Core;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;

namespace Router.Native;

/// <summary>What reading and validating the config file gave: a config, or error lines.</summary>
public sealed class LoadedConfig
{
    public Model.Config? Config { get; init; }
    /// <summary>Rendered warnings (the config is still usable).</summary>
    public List<string> Warnings { get; } = new();
    /// <summary>Rendered errors; non-empty exactly when Config is null.</summary>
    public List<string> Errors { get; } = new();
    /// <summary>The format the file was read in, as --check names it.</summary>
    public string Format { get; set; } = ConfigLoader.YamlFormat;
}

/// <summary>
/// Reads the YAML file into the core's <see cref="ConfigTree.Node"/> tree (order, duplicates and
/// positions kept) through YamlDotNet's static deserializer, then lets the core validate it.
/// The shell checks nothing about the shape: that is the core's job.
/// </summary>
public static class ConfigLoader
{
    public const string YamlFormat = "YAML";
    public const string PatternRouterFormat = "postfix-mx-pattern-router";

    public static LoadedConfig Load(string path)
    {
        var result = new LoadedConfig();
        string text;
        try
        {
            if (Directory.Exists(path))
            {
                result.Errors.Add(Cli.Prefix + "cannot read config file " + path + ": is a directory");
                return result;
            }
            text = File.ReadAllText(path);
        }
        catch (Exception e)
        {
            result.Errors.Add(Cli.Prefix + "cannot read config file " + path + ": " + Cli.Describe(e));
            return result;
        }
        return Validate(path, text);
    }

    /// <summary>Tells the two formats apart by content: postfix-mx-pattern-router's lines, else YAML.</summary>
    public static LoadedConfig Validate(string path, string text)
    {
        if (PatternRouterFile.recognizes(text))
        {
            var read = Collect(path, PatternRouterFile.read(path, text));
            read.Format = PatternRouterFormat;
            return read;
        }
        return ValidateYaml(path, text);
    }

    private static LoadedConfig ValidateYaml(string path, string text)
    {
        ConfigTree.Node root;
        try
        {
            root = Parse(text);
        }
        catch (YamlException e)
        {
            // The deserializer wraps the parser's error ("Exception during deserialization",
            // at the document's start): the innermost one says what and where.
            while (e.InnerException is YamlException inner) e = inner;
            var failed = new LoadedConfig();
            failed.Errors.Add(Diagnostics.render(Diagnostic(path, e.Start, YamlMessage(e))));
            return failed;
        }
        catch (InvalidOperationException e)
        {
            var failed = new LoadedConfig();
            failed.Errors.Add(path + ": error: cannot read YAML: " + e.Message);
            return failed;
        }

        return Collect(path, Validation.validate(path, root));
    }

    /// <summary>The config and rendered warnings, or the rendered errors (and warnings).</summary>
    private static LoadedConfig Collect(string path,
        FSharpResult<Tuple<Model.Config, FSharpList<Diagnostics.Diagnostic>>, FSharpList<Diagnostics.Diagnostic>> validated)
    {
        if (validated.IsOk)
        {
            var (config, warnings) = validated.ResultValue;
            var ok = new LoadedConfig { Config = config };
            foreach (var w in warnings) ok.Warnings.Add(Diagnostics.render(w));
            return ok;
        }
        var bad = new LoadedConfig();
        foreach (var d in validated.ErrorValue)
        {
            if (d.Severity.IsError) bad.Errors.Add(Diagnostics.render(d));
            else bad.Warnings.Add(Diagnostics.render(d));
        }
        if (bad.Errors.Count == 0) bad.Errors.Add(path + ": error: invalid configuration");
        return bad;
    }

    /// <summary>The YAML text as a node tree; a file with no document is a null scalar.</summary>
    public static ConfigTree.Node Parse(string text)
    {
        var deserializer = new StaticDeserializerBuilder(new YamlContext())
            .WithTypeConverter(new NodeTreeConverter())
            .Build();
        var parser = new Parser(new StringReader(text));
        parser.Consume<StreamStart>();
        NodeTree? tree = null;
        if (!parser.Accept<StreamEnd>(out _))
            tree = deserializer.Deserialize<NodeTree?>(parser);
        if (parser.Accept<DocumentStart>(out var second))
            throw new YamlException(second.Start, second.End,
                "a second YAML document: the config must be a single document");
        parser.Consume<StreamEnd>();
        return tree?.GetRoot() ?? ConfigTree.Node.NewScalar("", true, new ConfigTree.Pos(1, 1));
    }

    private static Diagnostics.Diagnostic Diagnostic(string file, Mark mark, string message) =>
        new(file, Pos(mark), Diagnostics.Severity.Error, message);

    internal static ConfigTree.Pos Pos(Mark mark) =>
        new((int)Math.Max(1, mark.Line), (int)Math.Max(1, mark.Column));

    /// <summary>YamlDotNet prefixes its messages with "(Line: 1, Col: 2, Idx: 3) - (...): ".</summary>
    private static string YamlMessage(YamlException e)
    {
        string m = e.Message;
        if (m.StartsWith("(Line:", StringComparison.Ordinal))
        {
            int cut = m.IndexOf("): ", StringComparison.Ordinal);
            if (cut >= 0)
            {
                int second = m.IndexOf("): ", cut + 3, StringComparison.Ordinal);
                if (m.AsSpan(cut + 3).StartsWith("(Line:") && second >= 0) cut = second;
                m = m.Substring(cut + 3);
            }
        }
        m = m.Trim();
        return m.Length == 0 ? "invalid YAML" : m;
    }
}

/// <summary>The whole document, as the type converter built it.</summary>
public sealed class NodeTree
{
    public NodeTree() { }
    public NodeTree(ConfigTree.Node root) => _root = root;
    // A field behind a method: the static generator must not try to map the core's union.
    private readonly ConfigTree.Node? _root;
    public ConfigTree.Node? GetRoot() => _root;
}

/// <summary>
/// Builds a <see cref="ConfigTree.Node"/> tree straight from the parser's events, so nothing
/// about the Python tool's dynamic keys has to be known here. Aliases resolve to the node
/// their anchor names (shared, not copied, so alias bombs cost nothing).
/// </summary>
public sealed class NodeTreeConverter : IYamlTypeConverter
{
    public bool Accepts(Type type) => type == typeof(NodeTree);

    public object? ReadYaml(IParser parser, Type type, ObjectDeserializer rootDeserializer)
    {
        var anchors = new Dictionary<string, ConfigTree.Node>(StringComparer.Ordinal);
        return new NodeTree(Read(parser, anchors, 0));
    }

    public void WriteYaml(IEmitter emitter, object? value, Type type, ObjectSerializer serializer) =>
        throw new NotSupportedException("the config is never written");

    private const int MaxDepth = 64;

    private static ConfigTree.Node Read(IParser parser, Dictionary<string, ConfigTree.Node> anchors, int depth)
    {
        if (parser.TryConsume<AnchorAlias>(out var alias))
        {
            if (anchors.TryGetValue(alias.Value.Value, out var target)) return target;
            throw new YamlException(alias.Start, alias.End, "unknown alias *" + alias.Value.Value);
        }
        if (parser.TryConsume<Scalar>(out var scalar))
        {
            // `!!str 40` is text like a quoted scalar; other tags (`!!int 40`) keep it plain.
            bool plain = scalar.Style == ScalarStyle.Plain
                         && (scalar.Tag.IsEmpty || scalar.Tag.Value != "tag:yaml.org,2002:str");
            var node = ConfigTree.Node.NewScalar(scalar.Value, plain, ConfigLoader.Pos(scalar.Start));
            Remember(anchors, scalar.Anchor, node);
            return node;
        }
        if (depth >= MaxDepth)
        {
            parser.Accept<ParsingEvent>(out var deep);
            throw new YamlException(deep?.Start ?? Mark.Empty, deep?.End ?? Mark.Empty, "nested too deeply");
        }
        if (parser.TryConsume<SequenceStart>(out var seqStart))
        {
            var items = new List<ConfigTree.Node>();
            try
            {
                while (!parser.TryConsume<SequenceEnd>(out _))
                    items.Add(Read(parser, anchors, depth + 1));
            }
            catch (InvalidOperationException) when (seqStart.Style == SequenceStyle.Flow)
            {
                // YamlDotNet's scanner fails this way, with no position, on a [ list never closed.
                throw new YamlException(seqStart.Start, seqStart.End, "the list opened here with [ is never closed with ]");
            }
            var node = ConfigTree.Node.NewSequence(ListModule.OfSeq(items), ConfigLoader.Pos(seqStart.Start));
            Remember(anchors, seqStart.Anchor, node);
            return node;
        }
        if (parser.TryConsume<MappingStart>(out var mapStart))
        {
            var entries = new List<Tuple<ConfigTree.Node, ConfigTree.Node>>();
            while (!parser.TryConsume<MappingEnd>(out _))
            {
                var key = Read(parser, anchors, depth + 1);
                var value = Read(parser, anchors, depth + 1);
                entries.Add(Tuple.Create(key, value));
            }
            var node = ConfigTree.Node.NewMapping(ListModule.OfSeq(Merge(entries)), ConfigLoader.Pos(mapStart.Start));
            Remember(anchors, mapStart.Anchor, node);
            return node;
        }
        parser.Accept<ParsingEvent>(out var unexpected);
        throw new YamlException(unexpected?.Start ?? Mark.Empty, unexpected?.End ?? Mark.Empty,
            "unexpected YAML event");
    }

    /// <summary>
    /// YAML 1.1 merge keys as PyYAML reads them (the Python tool's configs may use them):
    /// `&lt;&lt;: *base` (or a list of them) adds the entries of the merged mappings whose keys
    /// the mapping does not set itself; earlier mappings in the list win.
    /// </summary>
    private static List<Tuple<ConfigTree.Node, ConfigTree.Node>> Merge(List<Tuple<ConfigTree.Node, ConfigTree.Node>> entries)
    {
        bool any = false;
        foreach (var e in entries) any |= IsMergeKey(e.Item1);
        if (!any) return entries;

        var own = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in entries)
            if (!IsMergeKey(e.Item1) && e.Item1 is ConfigTree.Node.Scalar k) own.Add(k.text);

        var result = new List<Tuple<ConfigTree.Node, ConfigTree.Node>>();
        foreach (var e in entries)
        {
            if (!IsMergeKey(e.Item1))
            {
                result.Add(e);
                continue;
            }
            var sources = new List<ConfigTree.Node>();
            if (e.Item2 is ConfigTree.Node.Sequence seq) sources.AddRange(seq.items);
            else sources.Add(e.Item2);
            foreach (var source in sources)
            {
                if (source is not ConfigTree.Node.Mapping map)
                {
                    result.Add(e); // not mergeable: leave it for validation to report
                    break;
                }
                foreach (var m in map.entries)
                {
                    if (m.Item1 is ConfigTree.Node.Scalar mk && !own.Add(mk.text)) continue;
                    result.Add(m);
                }
            }
        }
        return result;
    }

    private static bool IsMergeKey(ConfigTree.Node key) =>
        key is ConfigTree.Node.Scalar { text: "<<", plain: true };

    private static void Remember(Dictionary<string, ConfigTree.Node> anchors, AnchorName anchor, ConfigTree.Node node)
    {
        if (!anchor.IsEmpty) anchors[anchor.Value] = node;
    }
}

/// <summary>The assembly's one YamlDotNet static context.</summary>
[YamlStaticContext]
[YamlSerializable(typeof(NodeTree))]
public partial class YamlContext : StaticContext { }
