#!/usr/bin/perl
# make-test-db.pl: write the tiny GeoIP test database data/geoip/test.mmdb.
#
# It covers only documentation, benchmarking and two well-known public
# ranges, with our own made-up data (no licence strings attached).  Some
# records use the flat ip-location-db field country_code, some the nested
# GeoLite2/DB-IP field country.iso_code, most both, so the reader is
# tested on both styles.  The output is byte-for-byte reproducible: the
# build epoch is fixed (SOURCE_DATE_EPOCH overrides it).
#
# Needs Debian's libmaxmind-db-writer-perl:
#     apt-get install -y libmaxmind-db-writer-perl
# Usage: perl data/geoip/make-test-db.pl [OUTPUT]   (default: test.mmdb
# beside this script)
use strict;
use warnings;

use File::Basename qw(dirname);
use MaxMind::DB::Writer::Tree;

my $out = shift // dirname(__FILE__) . '/test.mmdb';

my %types = (
	country_code                   => 'utf8_string',
	country                        => 'map',
	iso_code                       => 'utf8_string',
	names                          => 'map',
	en                             => 'utf8_string',
	autonomous_system_number       => 'uint32',
	autonomous_system_organization => 'utf8_string',
);

my $tree = MaxMind::DB::Writer::Tree->new(
	ip_version    => 6,
	record_size   => 24,
	database_type => 'rebound-Test-Country-ASN',
	languages     => ['en'],
	description   => { en => 'rebound test database (documentation ranges)' },
	map_key_type_callback => sub { $types{ $_[0] } },
	# The default (1) silently drops 192.0.2.0/24 and the other
	# reserved networks this database exists for.
	remove_reserved_networks => 0,
	alias_ipv6_to_ipv4       => 1,
);
# Reproducible output; _set_build_epoch is the writer's own setter.
$tree->_set_build_epoch($ENV{SOURCE_DATE_EPOCH} // 1700000000);

sub both {
	my ($cc, $name, $asn, $org) = @_;
	return {
		country_code => $cc,
		country      => { iso_code => $cc, names => { en => $name } },
		autonomous_system_number       => $asn,
		autonomous_system_organization => $org,
	};
}

# RFC 5737 TEST-NET-1: both styles.
$tree->insert_network('192.0.2.0/24',
    both('DE', 'Germany', 64496, 'Example Documentation Net One'));
# RFC 5737 TEST-NET-2: flat ip-location-db style only.
$tree->insert_network('198.51.100.0/24', {
	country_code                   => 'FR',
	autonomous_system_number       => 64497,
	autonomous_system_organization => 'Example Documentation Net Two',
});
# RFC 5737 TEST-NET-3: nested GeoLite2 / DB-IP style only.
$tree->insert_network('203.0.113.0/24', {
	country => { iso_code => 'JP', names => { en => 'Japan' } },
	autonomous_system_number       => 64498,
	autonomous_system_organization => 'Example Documentation Net Three',
});
# RFC 3849 IPv6 documentation prefix.
$tree->insert_network('2001:db8::/32',
    both('NL', 'Netherlands', 64499, 'Example Documentation Net Six'));
# RFC 2544 benchmarking range: an ASN without a country.
$tree->insert_network('198.18.0.0/15', {
	autonomous_system_number       => 64500,
	autonomous_system_organization => 'Example Benchmark Net',
});
# Two public resolvers, as real databases have them.
$tree->insert_network('8.8.8.0/24',
    both('US', 'United States', 15169, 'GOOGLE'));
$tree->insert_network('1.1.1.0/24',
    both('AU', 'Australia', 13335, 'CLOUDFLARENET'));

open(my $fh, '>:raw', $out) or die "make-test-db.pl: $out: $!\n";
$tree->write_tree($fh);
close($fh) or die "make-test-db.pl: $out: $!\n";
