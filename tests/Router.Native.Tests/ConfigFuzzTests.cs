using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;

namespace Router.Native.Tests;

/// <summary>
/// Careless admins: mutated copies of the example config, and YAML made of random
/// tokens, through `--check`. The loader never crashes: exit 0 (with at most warnings) or
/// exit 1 with every error line of the form FILE:LINE:COLUMN: error: MESSAGE.
/// </summary>
public class ConfigFuzzTests
{
    private static string ExampleText => File.ReadAllText(Path.Combine(RouterBinary.RepoRoot, "postfix-mx-smart-router.yaml.example"));

    /// <summary>The example with every option of the config: section in force.</summary>
    private static string FullExample =>
        "config:\n  log_file: /tmp/routing.log\n  port: 10099\n  host: 127.0.0.1\n  cache_ttl: 3600\n  timeout: 600\n" +
        "  dns_server: [127.0.0.1]\n  socketmap_port: 10100\n  socketmap_name: transport\n  max_connections: 100\n" +
        "  allow: [127.0.0.0/8]\n" + Example.Config(Example.DefaultAt.Last);

    private static readonly string[] Specials =
    {
        ":", "-", " ", "  ", "\t", "#", "[", "]", "{", "}", "&a", "*a", "!", "!!str", "|", ">", "'", "\"", "%", "@", "`",
        ",", "?", "\n", "\r", "\r\n", "\0", "é", "\uFEFF", "\u2028", "0", "100", "-1", "1.5", "0x10", "~", "null", "NO RESULT",
        "yes", "<<", "\\", "\u0085", "\u001b",
    };

    private static readonly string[] Lines =
    {
        "names:", "  - x", "    perc: 200", "    perc: -1", "    perc: 1.5", "    perc:", "    address:", "  default: nope",
        "  default: NO RESULT", "config:", "  host: 0.0.0.0", "  host: nonsense", "  allow: nonsense", "  allow: [10.0.0.1/8]",
        "  port: 0", "  port: 99999", "  max_connections: 0", "  max_connections: -5", "  dns_server: [x.y.z]", "  socketmap_port: 10099",
        "  socketmap_name: a b", "  timeout: -1", "<<: *a", "&a x: y", "? complex", "!!binary x", "%YAML 1.2", "---", "...",
        "key: [unclosed", "{a: 1", "\"unterminated", "servers:", "sender_rules:", "  good: [mx1, mx9]", "  bad: []", "  mx1:",
        "  empty:", "  x@y: good", "  '': good", "  example: [a, b]", "  *: good", "servers: ~", "names: {}", "  mx1: {address: a, perc: 0}",
    };

    private static string Mutate(string text, Random r)
    {
        var sb = new StringBuilder(text);
        for (var m = r.Next(1, 5); m > 0; m--)
        {
            if (sb.Length == 0) sb.Append(Lines[r.Next(Lines.Length)]);
            var at = r.Next(sb.Length);
            switch (r.Next(8))
            {
                case 0:
                    sb.Remove(at, 1).Insert(at, Specials[r.Next(Specials.Length)]);
                    break;
                case 1:
                    sb.Insert(at, Specials[r.Next(Specials.Length)]);
                    break;
                case 2:
                    sb.Remove(at, Math.Min(sb.Length - at, r.Next(1, 40)));
                    break;
                case 3:
                    sb.Length = at; // truncated
                    break;
                default:
                {
                    var lines = sb.ToString().Split('\n').ToList();
                    var i = r.Next(lines.Count);
                    switch (r.Next(5))
                    {
                        case 0: lines.Insert(i, lines[r.Next(lines.Count)]); break;               // a line twice
                        case 1: (lines[i], lines[^1]) = (lines[^1], lines[i]); break;             // two lines swapped
                        case 2: lines[i] = new string(' ', r.Next(0, 7)) + lines[i].TrimStart(); break; // indentation
                        case 3: lines.RemoveAt(i); break;
                        default: lines.Insert(i, Lines[r.Next(Lines.Length)]); break;
                    }
                    sb.Clear().Append(string.Join('\n', lines));
                    break;
                }
            }
        }
        return sb.ToString();
    }

    private static string RandomYaml(Random r)
    {
        var sb = new StringBuilder();
        for (var i = r.Next(0, 60); i > 0; i--)
        {
            sb.Append(r.Next(4) switch
            {
                0 => Specials[r.Next(Specials.Length)],
                1 => Lines[r.Next(Lines.Length)] + "\n",
                2 => new[] { "servers", "names", "sender_rules", "config", "mx1", "good", "address", "perc" }[r.Next(8)],
                _ => ((char)r.Next(0x20, 0x7f)).ToString(),
            });
        }
        return sb.ToString();
    }

    private static void Check(TempDir dir, string name, string yaml, ConcurrentBag<string> failures, ConcurrentDictionary<int, int> exits)
    {
        var path = dir.File(name);
        File.WriteAllText(path, yaml, new UTF8Encoding(false));
        var r = RouterProcess.Run(new[] { "-c", path, "--check" }, TimeSpan.FromSeconds(60));
        exits.AddOrUpdate(r.ExitCode, 1, (_, n) => n + 1);
        var lines = r.Stderr.Split('\n').Where(l => l.Length > 0).ToList();
        var located = new Regex("^" + Regex.Escape(path) + @":\d+:\d+: (error|warning): \S");
        string? problem = null;
        if (r.ExitCode != 0 && r.ExitCode != 1) problem = "exit " + r.ExitCode;
        else if (r.Stderr.Contains("Unhandled", StringComparison.OrdinalIgnoreCase) || r.Stderr.Contains("   at ", StringComparison.Ordinal)) problem = "a crash";
        else if (lines.FirstOrDefault(l => !located.IsMatch(l)) is { } bad) problem = "a line without FILE:LINE:COL: " + bad;
        else if (r.ExitCode == 1 && !lines.Any(l => l.Contains(": error: ", StringComparison.Ordinal))) problem = "exit 1 without an error line";
        else if (r.ExitCode == 0 && lines.Any(l => l.Contains(": error: ", StringComparison.Ordinal))) problem = "exit 0 with an error line";
        if (problem != null)
        {
            failures.Add(problem + "\n--- config ---\n" + yaml + "\n--- result ---\n" + r);
            File.Copy(path, path + ".failed", overwrite: true);
        }
    }

    [Theory]
    [InlineData(1, 250)]
    [InlineData(2, 250)]
    public void MutatedConfigsNeverCrashTheLoaderAndErrorsNameALine(int seed, int count)
    {
        using var dir = new TempDir();
        var bases = new[] { ExampleText, FullExample };
        var failures = new ConcurrentBag<string>();
        var exits = new ConcurrentDictionary<int, int>();
        var master = new Random(seed);
        var cases = Enumerable.Range(0, count).Select(i => (Name: "m" + i + ".yaml", Text: Mutate(bases[i % 2], new Random(master.Next())))).ToList();
        Parallel.ForEach(cases, new ParallelOptions { MaxDegreeOfParallelism = 4 }, c => Check(dir, c.Name, c.Text, failures, exits));
        Assert.True(failures.IsEmpty, failures.Count + " of " + count + " mutated configs failed; the first:\n" + failures.FirstOrDefault());
        // Both outcomes were seen: the mutations neither always break nor never break the file.
        Assert.True(exits.GetValueOrDefault(0) > 10 && exits.GetValueOrDefault(1) > 10,
            "exit codes: " + string.Join(", ", exits.Select(e => e.Key + " x" + e.Value)));
    }

    [Fact]
    public void RandomYamlNeverCrashesTheLoader()
    {
        using var dir = new TempDir();
        var failures = new ConcurrentBag<string>();
        var exits = new ConcurrentDictionary<int, int>();
        var master = new Random(3);
        var cases = Enumerable.Range(0, 200).Select(i => (Name: "r" + i + ".yaml", Text: RandomYaml(new Random(master.Next())))).ToList();
        Parallel.ForEach(cases, new ParallelOptions { MaxDegreeOfParallelism = 4 }, c => Check(dir, c.Name, c.Text, failures, exits));
        Assert.True(failures.IsEmpty, failures.Count + " of 200 random files failed; the first:\n" + failures.FirstOrDefault());
    }
}
