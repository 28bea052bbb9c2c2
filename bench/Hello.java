///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//DESCRIPTION A hello-world picocli script: the start-up baseline the benchmark compares check-wal with

import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

@Command(name = "hello", mixinStandardHelpOptions = true, version = "hello 1.0", description = "Prints hello.")
class Hello implements Callable<Integer> {
    public Integer call() {
        System.out.println("hello");
        return 0;
    }

    public static void main(String... args) { System.exit(new CommandLine(new Hello()).execute(args)); }
}
