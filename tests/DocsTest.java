import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * What the docs say agrees with the code, so that they cannot drift: the exit codes, each alias's description (the
 * catalog, the script's //DESCRIPTION, its --help), the examples of every --help on whole lines, and every option a
 * command of the README or docs/ uses.
 */
class DocsTest {
    static final Path ROOT = Pg.repoRoot();

    static JsonNode aliases() throws Exception {
        return new ObjectMapper().readTree(ROOT.resolve("jbang-catalog.json").toFile()).get("aliases");
    }

    static String readme() throws Exception { return Files.readString(ROOT.resolve("README.md")); }

    /** The README and every page of docs/. */
    static List<Path> docs() throws Exception {
        List<Path> all = new ArrayList<>(List.of(ROOT.resolve("README.md")));
        if (Files.isDirectory(ROOT.resolve("docs")))
            try (Stream<Path> pages = Files.list(ROOT.resolve("docs"))) { pages.filter(p -> p.toString().endsWith(".md")).sorted().forEach(all::add); }
        return all;
    }

    @Test void theReadmesExitCodeTableIsTheOneEveryHelpRenders() throws Exception {
        assertTrue(readme().contains(Exit.markdown()), "README.md should hold, as it is:\n" + Exit.markdown());
        String help = Pg.run(new GrantAccess(), "--help").out();
        for (Exit e : Exit.values())
            assertTrue(help.contains("\n  " + e.code + " ") && help.contains(e.meaning.substring(0, Math.min(40, e.meaning.length()))), e + " in\n" + help);
    }

    @Test void theCatalogTheScriptAndItsHelpDescribeEachAliasAlike() throws Exception {
        for (var alias : aliases().properties()) {
            String script = Files.readString(ROOT.resolve(alias.getValue().get("script-ref").asText()));
            Matcher directive = Pattern.compile("(?m)^//DESCRIPTION (.*)$").matcher(script);
            assertTrue(directive.find(), alias.getKey() + " has no //DESCRIPTION");
            String description = alias.getValue().get("description").asText();
            assertEquals(description, directive.group(1), alias.getKey() + ": the catalog and //DESCRIPTION");
            if (alias.getKey().equals("demo")) { // not compiled into the tests: its --help's first line is its DESCRIPTION constant
                assertTrue(script.contains("description = {Demo.DESCRIPTION,"), "demo's --help starts with its DESCRIPTION");
                continue;
            }
            CommandLine cmd = Cli.cli(Fixes.COMMANDS.get(alias.getKey()).get());
            assertEquals(alias.getKey(), cmd.getCommandName());
            assertEquals(description, cmd.getCommandSpec().usageMessage().description()[0], alias.getKey() + ": --help's first line");
        }
    }

    /** picocli wraps what is wider than the help: every example of every --help fits, so none breaks mid-token. */
    @Test void everyHelpKeepsItsExamplesOnWholeLines() throws Exception {
        for (String alias : Fixes.COMMANDS.keySet()) {
            CommandLine cmd = Cli.cli(Fixes.COMMANDS.get(alias).get());
            String help = cmd.getUsageMessage();
            for (String line : cmd.getCommandSpec().usageMessage().footer())
                if (line.startsWith("  ") && line.contains("jbang ")) {
                    assertTrue(line.length() <= Cli.HELP_WIDTH, alias + ": an example wider than the help: " + line);
                    assertTrue(help.contains(line.replace("%%", "%") + "\n"), alias + ": not on one line: " + line);
                }
        }
    }

    static final Pattern COMMAND = Pattern.compile("^(?:\\$ )?(?:[A-Z_]+=\\S+ )*(?:\\./)?jbang ([a-z][a-z-]*)(?: (.*))?$");

    /** Every command line of the README and docs/: its alias exists, and every option it gives is one that alias takes. */
    @Test void everyCommandInTheDocsUsesOnlyOptionsItsAliasHas() throws Exception {
        List<String> problems = new ArrayList<>();
        int checked = 0;
        for (Path doc : docs()) {
            boolean code = false;
            for (String line : Files.readAllLines(doc)) {
                if (line.startsWith("```")) { code = !code; continue; }
                Matcher m = COMMAND.matcher(line.strip());
                if (!code || !m.matches()) continue;
                if (m.group(1).equals("demo")) continue; // --keep alone, and not compiled into the tests
                var command = Fixes.COMMANDS.get(m.group(1));
                if (command == null) { problems.add(doc.getFileName() + ": no alias " + m.group(1) + ": " + line); continue; }
                var options = Cli.cli(command.get()).getCommandSpec().optionsMap();
                for (String word : Fixes.words(m.group(2) == null ? "" : m.group(2).replaceFirst("\\s+#.*$", "")))
                    if (word.startsWith("--") && !options.containsKey(word.replaceFirst("=.*$", "")))
                        problems.add(doc.getFileName() + ": " + m.group(1) + " has no option " + word + ": " + line);
                checked++;
            }
        }
        assertTrue(checked > 10, "the docs show commands: " + checked);
        assertEquals(List.of(), problems);
    }

    /** Every relative link of the README and docs/ leads to a file of the repository. */
    @Test void everyLinkBetweenTheDocsLeadsSomewhere() throws Exception {
        List<String> broken = new ArrayList<>();
        for (Path doc : docs()) {
            Matcher m = Pattern.compile("\\]\\(([^)#:]+)(#[^)]*)?\\)").matcher(Files.readString(doc));
            while (m.find()) if (!Files.exists(doc.getParent().resolve(m.group(1)))) broken.add(doc.getFileName() + ": " + m.group(1));
        }
        assertEquals(List.of(), broken);
    }

    @Test void theReadmeIsAGuideOfAtMost300Lines() throws Exception {
        assertTrue(readme().lines().count() <= 300, "README.md has " + readme().lines().count() + " lines: the reference is --help and docs/");
    }
}
