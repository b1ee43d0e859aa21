#!/usr/bin/env node
// `nsync`: checks the Node version before loading anything that needs a newer one (bin/launch.js).
import { launch } from './launch.js';

void launch('nsync');
