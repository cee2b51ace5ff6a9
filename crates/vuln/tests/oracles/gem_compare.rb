# Differential-test oracle: reads "a<TAB>b" lines on stdin and prints Gem::Version's order of a and b (-1, 0, 1),
# or "x" when RubyGems rejects either version.
require "rubygems"
$stdout.sync = false
$stdin.each_line do |line|
  a, b = line.chomp.split("\t", 2)
  begin
    puts(Gem::Version.new(a) <=> Gem::Version.new(b))
  rescue ArgumentError
    puts "x"
  end
end
