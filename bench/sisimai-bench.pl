#!/usr/bin/perl
# sisimai-bench.pl: single-thread throughput of Sisimai (the reference
# parser rebound is compared with) on the same files as bench_classify.
#
# Loads every *.eml of CORPUS_DIR into memory (not timed), runs one
# untimed warm-up pass (Sisimai loads its MTA modules lazily), then calls
# Sisimai->make(\$data) on each message in a loop for at least N seconds
# and prints messages/s and a machine-readable "sisimai_msgs_per_s=..."
# line.  Works with Sisimai 4.x and 5.x (make() exists in both).
#
# Usage: sisimai-bench.pl [--seconds N] CORPUS_DIR
use strict;
use warnings;
use Getopt::Long qw(GetOptions);
use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC CLOCK_PROCESS_CPUTIME_ID);

my $seconds = 3;
GetOptions('seconds=i' => \$seconds) && @ARGV == 1 && $seconds > 0
    or die "usage: $0 [--seconds N] CORPUS_DIR\n";
my $dir = $ARGV[0];

eval { require Sisimai; 1 }
    or die "$0: Perl module Sisimai not found (Debian: apt-get install libsisimai-perl)\n";

opendir(my $dh, $dir) or die "$0: $dir: $!\n";
my @names = sort grep { /\.eml\z/ && -f "$dir/$_" } readdir($dh);
closedir($dh);
die "$0: no *.eml files in $dir\n" unless @names;

my @msgs;
my $bytes = 0;
for my $name (@names) {
    open(my $fh, '<:raw', "$dir/$name") or die "$0: $dir/$name: $!\n";
    local $/;
    my $data = <$fh>;
    close($fh);
    push @msgs, \$data;
    $bytes += length($data);
}

# Sisimai warns on some odd inputs; that is not what is measured.
local $SIG{__WARN__} = sub { };

sub pass {
    my $results = 0;
    for my $ref (@msgs) {
        my $r = Sisimai->make($ref);
        $results += scalar(@$r) if ref($r) eq 'ARRAY';
    }
    return $results;
}

my $per_pass = pass();
my ($passes, $elapsed) = (0, 0);
my $t0 = clock_gettime(CLOCK_MONOTONIC);
# CPU time of this process: unlike the wall clock, it does not count the
# time other programs of a busy machine take.
my $c0 = clock_gettime(CLOCK_PROCESS_CPUTIME_ID);
do {
    pass();
    $passes++;
    $elapsed = clock_gettime(CLOCK_MONOTONIC) - $t0;
} while ($elapsed < $seconds);
my $cpu = clock_gettime(CLOCK_PROCESS_CPUTIME_ID) - $c0;
$cpu = $elapsed if $cpu <= 0;

my $n = $passes * scalar(@msgs);
printf("corpus: %s: %d messages, %.2f MB\n", $dir, scalar(@msgs), $bytes / 1e6);
printf("sisimai: %s (perl %vd)\n", $Sisimai::VERSION, $^V);
printf("passes: %d (%d results per pass)\n", $passes, $per_pass);
printf("messages: %d\n", $n);
printf("seconds: %.3f (CPU %.3f)\n", $elapsed, $cpu);
printf("messages/s: %.1f\n", $n / $elapsed);
printf("MB/s: %.2f\n", $bytes * $passes / 1e6 / $elapsed);
printf("sisimai_msgs_per_s=%.1f\n", $n / $elapsed);
printf("sisimai_mb_per_s=%.2f\n", $bytes * $passes / 1e6 / $elapsed);
printf("sisimai_msgs_per_cpu_s=%.1f\n", $n / $cpu);
