#!/usr/bin/perl
# archive.pl -- append the message on stdin to ~/archive/<project>/<yyyy-mm>.mbox
use strict;
use warnings;
use POSIX qw(strftime);

my $project = shift @ARGV || 'misc';
my $dir = "$ENV{HOME}/archive/$project";
system('mkdir', '-p', $dir) == 0 or exit 75;
my $file = $dir . '/' . strftime('%Y-%m', localtime) . '.mbox';
open(my $out, '>>', $file) or exit 75;
print $out $_ while <STDIN>;
print $out "\n";
close($out) or exit 75;
exit 0;
